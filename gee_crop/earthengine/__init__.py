"""earthengine"""
