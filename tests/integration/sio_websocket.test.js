// Socket.IO over WebSocket only (transports: ['websocket']):
// events, acks both ways (incl. timeout), binary, auth, handshake, rooms ack,
// server disconnect and transport close. See transport_suite.js.
"use strict";

require("./transport_suite").transportSuite("websocket");
