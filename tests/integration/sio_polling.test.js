// Socket.IO over HTTP long-polling only (transports: ['polling']):
// events, acks both ways (incl. timeout), binary, auth, handshake, rooms ack,
// server disconnect and transport close. See transport_suite.js.
"use strict";

require("./transport_suite").transportSuite("polling");
