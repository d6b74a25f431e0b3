"""Teams of technicians (a maintenance plan may name a team instead of one technician)."""
