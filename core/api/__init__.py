"""What every app's management API shares: viewset bases, the error shape, authentication,
permissions, pagination and strict serializer fields."""
