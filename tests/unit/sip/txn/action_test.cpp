#include "sip/txn/action.h"

#include <gtest/gtest.h>

namespace herald::sip::txn {
namespace {

TEST(ActionsTest, StartsEmpty) { EXPECT_TRUE(Actions{}.empty()); }

}  // namespace
}  // namespace herald::sip::txn
