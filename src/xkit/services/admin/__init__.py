"""The dashboard's administrators: accounts, sign-in sessions, the audit log and the reads
only the dashboard makes."""
