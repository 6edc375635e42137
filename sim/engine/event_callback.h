// What a simulation event runs: a move-only void() callable that keeps captures of up to
// kInlineBytes in place. std::function allocates for anything over 16 bytes, and most of the
// simulator's lambdas capture 24-48 (`this`, ranks, ops, a task, its start): a 1T-parameter
// search ran ~77 million events, each with a malloc and a free. Larger callables still work;
// they go to the heap.
#pragma once

#include <cstddef>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

namespace braid::sim {

class EventCallback {
 public:
  static constexpr size_t kInlineBytes = 56;

  EventCallback() = default;
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, EventCallback> &&
                                                    std::is_invocable_r_v<void, std::decay_t<F>&>>>
  EventCallback(F&& f) {  // NOLINT: implicit, as std::function's is
    using Fn = std::decay_t<F>;
    if constexpr (kFitsInline<Fn>) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
      ops_ = &kInlineOps<Fn>;
    } else {
      ::new (static_cast<void*>(storage_)) Fn*(new Fn(std::forward<F>(f)));
      ops_ = &kHeapOps<Fn>;
    }
  }
  EventCallback(EventCallback&& other) noexcept { TakeFrom(other); }
  EventCallback& operator=(EventCallback&& other) noexcept {
    // Taken first: `other` may live inside this callback's own callable, which Reset destroys.
    EventCallback taken(std::move(other));
    Reset();
    TakeFrom(taken);
    return *this;
  }
  EventCallback(const EventCallback&) = delete;
  EventCallback& operator=(const EventCallback&) = delete;
  ~EventCallback() { Reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  // Runs the callable; an empty one throws. Const, as std::function's is: the callable itself
  // may change its captures (a lambda capturing a callback by value calls it from a const body).
  void operator()() const {
    if (!ops_) throw std::bad_function_call();
    ops_->invoke(storage_);
  }

 private:
  struct Ops {
    void (*invoke)(void* storage);
    void (*relocate)(void* to, void* from);  // move-constructs at `to`, destroys `from`
    void (*destroy)(void* storage);
  };
  template <typename Fn>
  static constexpr bool kFitsInline = sizeof(Fn) <= kInlineBytes && alignof(Fn) <= alignof(std::max_align_t) &&
                                      std::is_nothrow_move_constructible_v<Fn>;

  template <typename Fn>
  static constexpr Ops kInlineOps = {
      [](void* s) { (*std::launder(static_cast<Fn*>(s)))(); },
      [](void* to, void* from) {
        Fn* f = std::launder(static_cast<Fn*>(from));
        ::new (to) Fn(std::move(*f));
        f->~Fn();
      },
      [](void* s) { std::launder(static_cast<Fn*>(s))->~Fn(); },
  };
  template <typename Fn>
  static constexpr Ops kHeapOps = {
      [](void* s) { (**std::launder(static_cast<Fn**>(s)))(); },
      [](void* to, void* from) { ::new (to) Fn*(*std::launder(static_cast<Fn**>(from))); },
      [](void* s) { delete *std::launder(static_cast<Fn**>(s)); },
  };

  void TakeFrom(EventCallback& other) noexcept {
    if (!other.ops_) return;
    other.ops_->relocate(storage_, other.storage_);
    ops_ = std::exchange(other.ops_, nullptr);
  }
  void Reset() noexcept {
    if (ops_) std::exchange(ops_, nullptr)->destroy(storage_);
  }

  alignas(std::max_align_t) mutable unsigned char storage_[kInlineBytes];
  const Ops* ops_ = nullptr;
};

}  // namespace braid::sim
