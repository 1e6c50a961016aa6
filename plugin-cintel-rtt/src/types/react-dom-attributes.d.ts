/**
 * Paste 18's published typings were generated with an @types/react that declared onResize on every
 * element; @types/react 17 declares it on media elements only, which makes Paste's props demand it.
 * Declaring it (optional, as it was) on DOMAttributes restores the typings Paste was built against.
 */
import 'react';

declare module 'react' {
  interface DOMAttributes<T> {
    onResize?: ReactEventHandler<T> | undefined;
    onResizeCapture?: ReactEventHandler<T> | undefined;
  }
}
