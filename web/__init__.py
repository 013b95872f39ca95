"""The web pages: sign-in and the approver's inbox, rendered on the server (Jinja2).

The pages call the JSON API's route functions as plain functions, so every rule and
every access check is the API's; the pages only turn answers into HTML.
"""
