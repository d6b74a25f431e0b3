"""KPIs the office reads (R-KPI-1), computed in SQL."""
