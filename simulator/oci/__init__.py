"""SAP OCI (Open Catalog Interface) 4.0/5.0: the catalogue call, the shop session, and the cart
returned as ``NEW_ITEM`` form fields (protocol.md §8).

``login`` reads the call, ``service`` serves it (session, OCICANCEL, background functions),
``fields`` maps a product to NEW_ITEM fields within their lengths, ``checkout`` returns a cart,
``routes`` holds the endpoints.
"""
