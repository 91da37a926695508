#include "app/data_directory.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace herald::app {
namespace {

class DataDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("herald-data-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(DataDirectoryTest, MadeLockedAndGivenAKeyThatSurvivesARestart) {
  std::string error;
  std::string key;
  {
    auto first = DataDirectory::open(dir_, error);
    ASSERT_TRUE(first) << error;
    key = first->key();
    EXPECT_EQ(key.size(), 32u);
    struct stat st {};
    ASSERT_EQ(::stat((dir_ / "herald.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    // A second server on the same directory is refused, naming the first one's pid.
    auto second = DataDirectory::open(dir_, error);
    EXPECT_FALSE(second);
    EXPECT_EQ(error, "data directory " + dir_.string() + " is used by another herald serve (pid " +
                         std::to_string(::getpid()) + ")");
  }
  // Released with the first: the next start gets the same key.
  auto again = DataDirectory::open(dir_, error);
  ASSERT_TRUE(again) << error;
  EXPECT_EQ(again->key(), key);
}

TEST_F(DataDirectoryTest, AKeyFileOfTheWrongSizeIsAnErrorNotANewKey) {
  std::filesystem::create_directories(dir_);
  std::ofstream(dir_ / "herald.key") << "short";
  std::string error;
  EXPECT_FALSE(DataDirectory::open(dir_, error));
  EXPECT_NE(error.find("herald.key holds 5 bytes, not the 32 of a server key"), std::string::npos) << error;
}

}  // namespace
}  // namespace herald::app
