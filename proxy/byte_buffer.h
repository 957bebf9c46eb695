// A growable byte buffer for one direction of a relay. Storage is allocated on first use and
// can be dropped when a connection goes idle, so an idle client costs only the object itself.
// Owned by one session; not thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

namespace storegate::proxy {

class ByteBuffer {
  public:
    explicit ByteBuffer(size_t initial_capacity = 8192) : initial_(initial_capacity) {}

    uint8_t* data() { return data_.get(); }
    const uint8_t* data() const { return data_.get(); }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }
    std::span<const uint8_t> bytes() const { return {data_.get(), size_}; }

    // Free space after the data, allocating or growing first if less than `min_free` is left.
    std::span<uint8_t> prepare(size_t min_free = 1);
    void commit(size_t n) { size_ += n; }
    // Drops the first `n` bytes, moving the rest to the front.
    void consume(size_t n);
    void append(const void* p, size_t n);
    void clear() { size_ = 0; }
    // Releases the storage when empty (idle connections keep no buffer).
    void shrink_if_empty();
    // Makes room for at least `n` bytes in total without losing data.
    void reserve(size_t n);
    // Exchanges storage and contents with `other` (each keeps its initial capacity).
    void swap_storage(ByteBuffer& other) {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
    }

  private:
    size_t initial_;
    std::unique_ptr<uint8_t[]> data_;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

}  // namespace storegate::proxy
