"""The purposes the service itself relies on: every notice must ask for them, and the gate asks about them."""

#: Use the person's coarse location to find offers near them.
LOCATION_OFFERS = "location_offers"
#: Count the person, anonymously, in the stores' insight figures.
OFFER_ANALYTICS = "offer_analytics"

CORE_PURPOSES = (LOCATION_OFFERS, OFFER_ANALYTICS)
