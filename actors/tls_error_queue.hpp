// OpenSSL's error queue emptied before each TLS call of CAF's cluster links (see the .cpp:
// Debian's libcaf_openssl 0.17.6 leaves it full after one failed handshake, and every TLS
// link on the middleman's thread then fails).
#pragma once

namespace sio {

/// Always true; a cluster node with TLS links calls it so the linker keeps the interposed
/// SSL_read / SSL_write / SSL_accept / SSL_connect in the executable.
bool tls_error_queue_cleared();

} // namespace sio
