import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { Theme } from '@twilio-paste/core/theme';

import { AgentAlerts } from './AgentAlerts';
import { CoachingCards } from './CoachingCards';
import { InsightsTab } from './InsightsTab';
import type { Insight } from '../types';

const churn: Insight = {
  operatorId: 'intelligence_operator_01kg2vz0c1d2e3f4g5h6j7k8m9',
  operatorName: 'Churn Risk',
  kind: 'CLASSIFICATION',
  fields: [{ key: 'label', label: 'Label', value: 'HIGH', style: 'label', tone: 'critical' }],
};
const entities: Insight = {
  operatorId: 'intelligence_operator_01kg2vz9c1d2e3f4g5h6j7k8m9',
  operatorName: 'intelligence_operator_01kg2vz9c1d2e3f4g5h6j7k8m9',
  kind: 'EXTRACTION',
  fields: [
    { key: 'entity', label: 'CITY', value: 'Austin', style: 'entity', tone: 'neutral' },
    { key: 'entity', label: 'DATE', value: 'March 3', style: 'entity', tone: 'neutral' },
  ],
};

describe('InsightsTab', () => {
  it('shows a classification as a toned label and an extraction as entity chips', () => {
    render(
      <Theme.Provider theme="default">
        <InsightsTab insights={{ [churn.operatorId]: churn, [entities.operatorId]: entities }} loaded />
      </Theme.Provider>,
    );
    const [first, second] = screen.getAllByTestId('insight');
    expect(within(first).getByText('HIGH')).toHaveAttribute('data-tone', 'critical');
    expect(
      within(second)
        .getAllByTestId('insight-entity')
        .map((chip) => chip.textContent),
    ).toEqual(['CITY: Austin', 'DATE: March 3']);
  });

  it('says when there is nothing yet', () => {
    render(<InsightsTab insights={{}} loaded />);
    expect(screen.getByText('No insights yet on this call.')).toBeInTheDocument();
  });
});

describe('CoachingCards', () => {
  it('shows each note until the agent dismisses it', () => {
    const dismissed: string[] = [];
    const notes = [{ id: 'n1', text: 'Confirm the date.' }];
    const { rerender } = render(
      <CoachingCards coaching={notes} dismissed={[]} onDismiss={(id) => dismissed.push(id)} />,
    );
    expect(screen.getByTestId('coaching-card')).toHaveTextContent('From your supervisor: Confirm the date.');
    fireEvent.click(screen.getByRole('button'));
    expect(dismissed).toEqual(['n1']);
    rerender(<CoachingCards coaching={notes} dismissed={dismissed} />);
    expect(screen.queryByTestId('coaching-card')).toBeNull();
  });
});

describe('AgentAlerts', () => {
  it("shows the firing alerts meant for agents, not the supervisors' or cleared ones", () => {
    const base = { severity: 'critical', why: 'Churn Risk: HIGH', state: 'firing' };
    render(
      <AgentAlerts
        alerts={{
          churn: { ...base, rule: 'churn', title: 'Churn risk high', audience: ['supervisor', 'agent'] },
          overdue: { ...base, rule: 'overdue', title: 'Step overdue', audience: ['supervisor'] },
          upsell: { ...base, rule: 'upsell', title: 'Upsell now', audience: ['agent'], state: 'cleared' },
        }}
      />,
    );
    const shown = screen.getAllByTestId('agent-alert');
    expect(shown.map((alert) => alert.dataset.rule)).toEqual(['churn']);
    expect(shown[0]).toHaveTextContent('Churn risk high: Churn Risk: HIGH');
  });
});
