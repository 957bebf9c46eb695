#include "proxy/byte_buffer.h"

#include <algorithm>

namespace storegate::proxy {

void ByteBuffer::reserve(size_t n) {
    if (n <= capacity_) {
        return;
    }
    size_t cap = std::max({n, initial_, capacity_ * 2});
    auto fresh = std::make_unique_for_overwrite<uint8_t[]>(cap);
    if (size_ > 0) {
        std::memcpy(fresh.get(), data_.get(), size_);
    }
    data_ = std::move(fresh);
    capacity_ = cap;
}

std::span<uint8_t> ByteBuffer::prepare(size_t min_free) {
    if (capacity_ - size_ < min_free) {
        reserve(size_ + std::max(min_free, initial_));
    }
    return {data_.get() + size_, capacity_ - size_};
}

void ByteBuffer::consume(size_t n) {
    if (n >= size_) {
        size_ = 0;
        return;
    }
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
}

void ByteBuffer::append(const void* p, size_t n) {
    auto space = prepare(n);
    std::memcpy(space.data(), p, n);
    size_ += n;
}

void ByteBuffer::shrink_if_empty() {
    if (size_ == 0 && capacity_ > 0) {
        data_.reset();
        capacity_ = 0;
    }
}

}  // namespace storegate::proxy
