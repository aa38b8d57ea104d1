"""The only door to the outside: every page Perles reads comes through here.

client      Fetcher: one guarded httpx client, redirects by hand, one deadline, byte caps
netguard    the network backend that checks every address where the socket opens
urls        URL normalisation (one article per normalised URL) and the outbound URL policy
robots      robots.txt, cached per site
charset     bytes to text with an allow-list of encodings
captures    WARC files of offline captures (collections/captures/)
replay      a transport that answers from captures instead of the network
"""

from aggregator.fetch.charset import decode_body
from aggregator.fetch.client import Fetcher, Page

__all__ = ["Fetcher", "Page", "decode_body"]
