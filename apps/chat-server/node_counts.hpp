// Counts per key kept per node, the way each node's copy of the chat's replicated state
// keeps them: a key (a user in a presence room, an online user) is present while its
// total over the nodes is above zero, so a user with sockets on two nodes is one member.
// Each change says whether it made the key appear or disappear. The local node is the
// origin "" (its name may not be known yet).
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace chat {

/// What a change did to a key: nothing visible, made it present, made it absent.
enum class count_change { none, first, last };

template <class Key> class node_counts {
public:
  using change = count_change;

  /// Adds `diff` to `origin`'s count of `key` (never below zero: a late decrement of a
  /// count already dropped is ignored). `applied` says how much it really moved.
  change add(const std::string& origin, const Key& key, int diff, int* applied = nullptr) {
    auto& e = entries_[key];
    auto& n = e.by_node[origin];
    int before = e.total;
    int moved = diff < 0 && -diff > n ? -n : diff;
    n += moved;
    e.total += moved;
    if (applied)
      *applied = moved;
    if (n > 0) {
      keys_of_[origin].insert(key);
    } else {
      e.by_node.erase(origin);
      forget_key(origin, key);
    }
    return settle(key, before);
  }

  int total(const Key& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? 0 : it->second.total;
  }
  int of(const std::string& origin, const Key& key) const {
    auto it = entries_.find(key);
    if (it == entries_.end())
      return 0;
    auto n = it->second.by_node.find(origin);
    return n == it->second.by_node.end() ? 0 : n->second;
  }

  /// Every present key, in order, with its total.
  const auto& entries() const { return entries_; }

  /// `origin`'s counts (a snapshot to send).
  std::vector<std::pair<Key, int>> of_node(const std::string& origin) const {
    std::vector<std::pair<Key, int>> out;
    if (auto it = keys_of_.find(origin); it != keys_of_.end())
      for (auto& key : it->second)
        out.emplace_back(key, of(origin, key));
    return out;
  }

  /// Replaces `origin`'s counts with `counts`: the keys that appeared or disappeared.
  std::vector<std::pair<Key, change>> replace(const std::string& origin, const std::map<Key, int>& counts) {
    std::vector<std::pair<Key, change>> out;
    for (auto& [key, n] : of_node(origin))
      if (!counts.count(key))
        if (auto c = add(origin, key, -n); c != change::none)
          out.emplace_back(key, c);
    for (auto& [key, n] : counts)
      if (n >= 0)
        if (auto c = add(origin, key, n - of(origin, key)); c != change::none)
          out.emplace_back(key, c);
    return out;
  }

  /// Forgets `origin` (a node that went down): the keys that disappeared.
  std::vector<Key> drop(const std::string& origin) {
    std::vector<Key> gone;
    for (auto& [key, n] : of_node(origin))
      if (add(origin, key, -n) == change::last)
        gone.push_back(key);
    return gone;
  }

private:
  struct entry {
    std::map<std::string, int> by_node;
    int total = 0;
  };

  change settle(const Key& key, int before) {
    auto it = entries_.find(key);
    int after = it->second.total;
    if (after == 0)
      entries_.erase(it);
    if (before == 0 && after > 0)
      return change::first;
    if (before > 0 && after == 0)
      return change::last;
    return change::none;
  }

  void forget_key(const std::string& origin, const Key& key) {
    auto it = keys_of_.find(origin);
    if (it == keys_of_.end())
      return;
    it->second.erase(key);
    if (it->second.empty())
      keys_of_.erase(it);
  }

  std::map<Key, entry> entries_;
  std::map<std::string, std::set<Key>> keys_of_; // origin -> its keys with a count
};

} // namespace chat
