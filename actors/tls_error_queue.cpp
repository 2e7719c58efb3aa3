// OpenSSL's per-thread error queue, emptied before every TLS call libcaf_openssl makes.
//
// Why this file exists: OpenSSL requires the calling thread's error queue to be empty before
// SSL_read / SSL_write / SSL_accept / SSL_connect, or SSL_get_error() answers SSL_ERROR_SSL
// for a mere "want read". CAF 0.17.6's openssl::session never clears it, and drains it only
// inside CAF_LOG_INFO, which Debian's build compiles out (CAF_LOG_LEVEL_QUIET). So the first
// failed handshake on the middleman's thread (a peer that does not speak TLS, or the losing
// side of two nodes dialling each other at once) leaves an error behind, and from then on
// every TLS session on that thread fails at its next "want read": members drop, and new links
// never form. Seen as: a plain node dialling a TLS cluster port made the TLS members drop each
// other; two TLS nodes seeding each other never linked, and retries did not mend it.
//
// Debian's libcaf_openssl cannot be patched from here, so this executable interposes the
// four calls (the dynamic linker binds libcaf_openssl's references to these definitions) and
// each one clears the queue, then calls OpenSSL's own function. That is exactly what the
// OpenSSL manual (SSL_get_error(3)) asks of every caller; Asio's SSL streams do the same.
#include "actors/tls_error_queue.hpp"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>

namespace sio {
namespace {

template <class F> F next_definition(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr)
    std::abort(); // libssl is linked into this executable: cannot happen
  return reinterpret_cast<F>(f);
}

} // namespace

bool tls_error_queue_cleared() {
  // Referenced by the cluster node so that the linker keeps this object (and the four
  // definitions below) in the executable.
  return true;
}

} // namespace sio

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = sio::next_definition<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = sio::next_definition<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static auto real = sio::next_definition<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

int SSL_connect(SSL* ssl) {
  static auto real = sio::next_definition<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

} // extern "C"
