"""geo-offers: the spatial core and the web application."""
