"""Service levels (R-SLA-1/2): policies, business-hours calendars, clocks per work order / service request,
and breaches detected while they happen and escalated through the notification outbox."""
