// What a message struct looks like to another node: CAF's binary serializer inside a
// caf::message, as BASP carries it (the cluster, --store cluster). Include after
// <caf/test/unit_test.hpp> (it reports through CAF_ERROR / CAF_CHECK).
#pragma once

#include <caf/all.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <initializer_list>
#include <string>
#include <vector>

namespace sio_test {

/// `x` through the serializer and back: it serializes only when announced, each of
/// `fields` (a distinct value in every field) shows in its text, so inspect covers the
/// field, and it reads back as written. Returns the copy that came back.
template <class T> T crossed(caf::actor_system& sys, const T& x, std::initializer_list<std::string> fields = {}) {
  auto msg = caf::make_message(x);
  auto text = caf::deep_to_string(msg);
  for (auto& field : fields)
    if (text.find(field) == std::string::npos)
      CAF_ERROR(text << " lacks " << field);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  if (auto err = sink(msg)) {
    CAF_ERROR(text << " does not serialize: " << sys.render(err));
    return x;
  }
  caf::message back;
  caf::binary_deserializer source{sys, buf};
  if (auto err = source(back)) {
    CAF_ERROR(text << " does not deserialize: " << sys.render(err));
    return x;
  }
  CAF_CHECK_EQUAL(caf::deep_to_string(back), text);
  if (!back.match_elements<T>()) {
    CAF_ERROR(text << " came back as " << caf::deep_to_string(back));
    return x;
  }
  return back.get_as<T>(0);
}

} // namespace sio_test
