# The PREEMPT catalogue, courses, sessions, appointments and reminders arrive with their issues.
