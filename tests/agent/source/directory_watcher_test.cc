#include "agent/source/directory_watcher.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace weft::agent {
namespace {

namespace fs = std::filesystem;

class DirectoryWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weft_watch_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  static std::string Service(const std::string& name) {
    return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
           ", namespace: demo}\nspec:\n  ports: [{port: 80}]\n";
  }
  // Drains until `pred` holds or 5 s pass.
  template <class Pred>
  bool DrainUntil(DirectoryWatcher& w, ConfigStore& store, Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{w.fd(), POLLIN, 0};
      poll(&p, 1, 100);
      w.Drain(store);
      if (pred()) return true;
    }
    return false;
  }
  size_t Services(ConfigStore& store) { return store.Snapshot().services_size(); }

  fs::path dir_;
};

TEST_F(DirectoryWatcherTest, FollowsWritesMovesDeletesAndNewDirectories) {
  Write(dir_ / "a.yaml", Service("a"));
  Write(dir_ / ".hidden.yaml", Service("hidden"));
  Write(dir_ / "notes.txt", Service("txt"));
  auto w = DirectoryWatcher::Create(dir_.string());
  ASSERT_TRUE(w.ok()) << w.status();
  ConfigStore store;
  auto results = (*w)->InitialSync(store);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(Services(store), 1u);

  Write(dir_ / "b.yaml", Service("b"));
  EXPECT_TRUE(DrainUntil(**w, store, [&] { return Services(store) == 2; }));

  // An editor's pattern: write a temporary file, rename it over the target.
  Write(dir_ / ".b.yaml.swp", Service("c"));
  fs::rename(dir_ / ".b.yaml.swp", dir_ / "b.yaml");
  EXPECT_TRUE(DrainUntil(**w, store, [&] {
    for (const auto& s : store.Snapshot().services()) {
      if (s.name() == "c") return true;
    }
    return false;
  }));

  Write(dir_ / "sub" / "deeper" / "d.yml", Service("d"));
  EXPECT_TRUE(DrainUntil(**w, store, [&] { return Services(store) == 3; }));

  fs::remove(dir_ / "a.yaml");
  EXPECT_TRUE(DrainUntil(**w, store, [&] { return Services(store) == 2; }));
  fs::remove_all(dir_ / "sub");
  EXPECT_TRUE(DrainUntil(**w, store, [&] { return Services(store) == 1; }));
}

TEST_F(DirectoryWatcherTest, MissingDirectoryIsAnError) {
  auto w = DirectoryWatcher::Create((dir_ / "nope").string());
  EXPECT_FALSE(w.ok());
  EXPECT_NE(std::string(w.status().message()).find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace weft::agent
