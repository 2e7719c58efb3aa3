// Socket.IO over long-polling upgraded to WebSocket (default transports):
// events, acks both ways (incl. timeout), binary, auth, handshake, rooms ack,
// server disconnect and transport close. See transport_suite.js.
"use strict";

require("./transport_suite").transportSuite("upgrade");
