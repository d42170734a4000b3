"""Vendor push: ``POST /hooks/{source}`` (:mod:`.receiver`) and the platforms' signature
schemes it checks (:mod:`.schemes`)."""
