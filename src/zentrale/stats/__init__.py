"""Statistics for supervisors: per department, agent and period; reports, dashboard, wallboard."""
