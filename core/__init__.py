"""What every app shares: building blocks with no app of their own."""
