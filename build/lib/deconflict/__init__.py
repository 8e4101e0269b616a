"""deconflict: advance notice and deconfliction of planned air activity.

Parties that share airspace but not plans file notices of their activity as 4D volumes; the hub
checks them against each other's planned activity, warns whoever is affected, and keeps a record of
who was told what, and when. See ARCHITECTURE in the README for the packages and the data flow.
"""

__version__ = "0.1.0"
