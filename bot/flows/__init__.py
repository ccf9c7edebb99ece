"""The flow runtime and the flows: built-in ones and polls compiled from the database."""
