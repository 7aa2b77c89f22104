"""One client per outside system (the central system, SMS gateways, the receipt printer), plain Python
without Flask; the app binds them in kiosk.extensions."""
