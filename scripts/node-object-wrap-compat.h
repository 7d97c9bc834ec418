// Force-included (g++ -include) when better-sqlite3 12 is compiled on Node 24.19 or newer; see
// scripts/rebuild-better-sqlite3.mjs. It defines node::ObjectWrap exactly as Node 20, 22 and 24.0-24.18 ship
// it, and takes the include guard of <node_object_wrap.h> so that the runtime's header is skipped.
//
// Why: Node 24.19 backported "src: add cleanup hooks to node::ObjectWrap" (nodejs/node#63642) without the
// cleanup-hook registry that makes ~ObjectWrap safe during garbage collection (nodejs/node#65446). With that
// header, ~ObjectWrap calls node::RemoveEnvironmentCleanupHook(Isolate::GetCurrent(), ...), which CHECKs that a
// Node context is entered; V8 runs first-pass weak callbacks with none, so the first Statement, Database or
// iterator that the garbage collector frees aborts the process: "Assertion failed: (env) != nullptr", exit 134.
//
// The class body below follows Node's node_object_wrap.h (Copyright Joyent, Inc. and other Node contributors,
// MIT licence) before that change.
#ifndef SRC_NODE_OBJECT_WRAP_H_
#define SRC_NODE_OBJECT_WRAP_H_

#include <cassert>
#include "v8.h"

namespace node {

class ObjectWrap {
 public:
  ObjectWrap() { refs_ = 0; }

  virtual ~ObjectWrap() {
    if (persistent().IsEmpty()) return;
    persistent().ClearWeak();
    persistent().Reset();
  }

  template <class T>
  static inline T* Unwrap(v8::Local<v8::Object> handle) {
    assert(!handle.IsEmpty());
    assert(handle->InternalFieldCount() > 0);
    // Cast to ObjectWrap before casting to T: a direct cast from void to T is wrong when T has several bases.
    void* ptr = handle->GetAlignedPointerFromInternalField(0);
    ObjectWrap* wrap = static_cast<ObjectWrap*>(ptr);
    return static_cast<T*>(wrap);
  }

  inline v8::Local<v8::Object> handle() { return handle(v8::Isolate::GetCurrent()); }

  inline v8::Local<v8::Object> handle(v8::Isolate* isolate) { return v8::Local<v8::Object>::New(isolate, persistent()); }

  // NOLINTNEXTLINE(runtime/v8_persistent)
  inline v8::Persistent<v8::Object>& persistent() { return handle_; }

 protected:
  inline void Wrap(v8::Local<v8::Object> handle) {
    assert(persistent().IsEmpty());
    assert(handle->InternalFieldCount() > 0);
    handle->SetAlignedPointerInInternalField(0, this);
    persistent().Reset(v8::Isolate::GetCurrent(), handle);
    MakeWeak();
  }

  inline void MakeWeak() { persistent().SetWeak(this, WeakCallback, v8::WeakCallbackType::kParameter); }

  // Ref() attaches the object to the event loop: it is not collected while referenced.
  virtual void Ref() {
    assert(!persistent().IsEmpty());
    persistent().ClearWeak();
    refs_++;
  }

  // Unref() detaches it again; the object may be freed once weak. Never call it from a destructor.
  virtual void Unref() {
    assert(!persistent().IsEmpty());
    assert(!persistent().IsWeak());
    assert(refs_ > 0);
    if (--refs_ == 0) MakeWeak();
  }

  int refs_;  // ro

 private:
  static void WeakCallback(const v8::WeakCallbackInfo<ObjectWrap>& data) {
    ObjectWrap* wrap = data.GetParameter();
    assert(wrap->refs_ == 0);
    wrap->handle_.Reset();
    delete wrap;
  }

  // NOLINTNEXTLINE(runtime/v8_persistent)
  v8::Persistent<v8::Object> handle_;
};

}  // namespace node

#endif  // SRC_NODE_OBJECT_WRAP_H_
