// Checking nat::Error messages: NAT_EXPECT_ERROR(stmt, "[view]", "[2, 3]") runs stmt, expects a
// nat::Error, and checks that its message contains every given substring (op names, shapes, sizes).
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "core/error.h"

namespace nat::testing {

// The message of the nat::Error thrown by f, or "" (and a test failure) when f does not throw one.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const nat::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected nat::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected nat::Error, nothing was thrown";
  return "";
}

inline ::testing::AssertionResult message_contains(const std::string& msg, std::initializer_list<const char*> parts) {
  for (const char* p : parts)
    if (msg.find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << p << "\"";
  return ::testing::AssertionSuccess();
}

}  // namespace nat::testing

#define NAT_EXPECT_ERROR(stmt, ...) \
  EXPECT_TRUE(::nat::testing::message_contains(::nat::testing::error_message([&] { stmt; }), {__VA_ARGS__}))
