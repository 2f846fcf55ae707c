"""Live area streams: Server-Sent Events of the changes to a coarse area's catalogue (issue 17)."""
