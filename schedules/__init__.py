"""The scheduler process (`flask scheduler run`): jobs are thin calls into the service layer."""
