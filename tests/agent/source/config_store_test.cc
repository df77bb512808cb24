#include "agent/source/config_store.h"

#include <gtest/gtest.h>

namespace weft::agent {
namespace {

const policy::pb::Service* FindService(const policy::pb::MeshSnapshot& s, const std::string& host) {
  for (const auto& svc : s.services()) {
    if (svc.hostname() == host) return &svc;
  }
  return nullptr;
}

constexpr char kServices[] = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo}
spec:
  clusterIP: 10.96.7.7
  ports: [{port: 5432}]
)";

TEST(ConfigStore, AssignsClusterIpsLikeTheApiServerAndHonoursGivenOnes) {
  ConfigStore store;
  FileResult r = store.ApplyFile("a.yaml", kServices);
  EXPECT_EQ(r.resources, 2u);
  EXPECT_EQ(r.rejected, 0u);
  const auto& snap = store.Snapshot();
  const auto* web = FindService(snap, "web.demo.svc.cluster.local");
  const auto* db = FindService(snap, "db.demo.svc.cluster.local");
  ASSERT_TRUE(web && db);
  ASSERT_EQ(web->vips_size(), 1);
  EXPECT_EQ(web->vips(0).rfind("10.96.", 0), 0u) << web->vips(0);
  EXPECT_EQ(db->vips(0), "10.96.7.7");
  // Another agent reading the same files assigns the same address.
  ConfigStore other;
  other.ApplyFile("a.yaml", kServices);
  EXPECT_EQ(FindService(other.Snapshot(), "web.demo.svc.cluster.local")->vips(0), web->vips(0));
  // Re-applying keeps the address.
  std::string before = web->vips(0);
  store.ApplyFile("a.yaml", kServices);
  EXPECT_EQ(FindService(store.Snapshot(), "web.demo.svc.cluster.local")->vips(0), before);
}

TEST(ConfigStore, AssignedAddressesSkipUsedOnes) {
  std::set<uint32_t> used;
  std::string first = AssignedClusterIp("demo/web", "10.96.0.0/30", used);
  // /30 has two usable addresses: .1 and .2.
  ASSERT_TRUE(first == "10.96.0.1" || first == "10.96.0.2") << first;
  used.insert(first == "10.96.0.1" ? 0x0A600001u : 0x0A600002u);
  std::string second = AssignedClusterIp("demo/other", "10.96.0.0/30", used);
  EXPECT_NE(second, first);
  used.insert(0x0A600001u);
  used.insert(0x0A600002u);
  EXPECT_EQ(AssignedClusterIp("demo/third", "10.96.0.0/30", used), "");
}

TEST(ConfigStore, BrokenDocumentKeepsTheLastGoodVersion) {
  ConfigStore store;
  store.ApplyFile("a.yaml", kServices);
  std::string broken = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  ports: [{port: eighty}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo}
spec:
  clusterIP: 10.96.7.8
  ports: [{port: 5432}]
)";
  FileResult r = store.ApplyFile("a.yaml", broken);
  EXPECT_EQ(r.rejected, 1u);
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(r.diagnostics[0].field, "spec.ports[0].port");
  const auto& snap = store.Snapshot();
  const auto* web = FindService(snap, "web.demo.svc.cluster.local");
  ASSERT_NE(web, nullptr) << "the last good web Service must stay in force";
  EXPECT_EQ(web->ports(0).port(), 80u);
  EXPECT_EQ(FindService(snap, "db.demo.svc.cluster.local")->vips(0), "10.96.7.8");
  bool reported = false;
  for (const auto& d : snap.diagnostics()) reported |= d.source().field() == "spec.ports[0].port";
  EXPECT_TRUE(reported);
  // A YAML syntax error in the whole file keeps everything.
  store.ApplyFile("a.yaml",
                  "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo\n");
  EXPECT_NE(FindService(store.Snapshot(), "web.demo.svc.cluster.local"), nullptr);
}

TEST(ConfigStore, RemovedFileAndRemovedDocumentTakeTheirResources) {
  ConfigStore store;
  store.ApplyFile("a.yaml", kServices);
  store.ApplyFile("a.yaml", std::string(kServices).substr(0, std::string(kServices).find("---")));
  EXPECT_EQ(FindService(store.Snapshot(), "db.demo.svc.cluster.local"), nullptr);
  EXPECT_NE(FindService(store.Snapshot(), "web.demo.svc.cluster.local"), nullptr);
  store.RemoveFile("a.yaml");
  EXPECT_EQ(store.Snapshot().services_size(), 0);
  EXPECT_GE(store.generation(), 3u);
}

TEST(ConfigStore, SameResourceInTwoFilesIsAConflict) {
  ConfigStore store;
  store.ApplyFile("a.yaml", kServices);
  FileResult r = store.ApplyFile("b.yaml", R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo}
spec:
  clusterIP: 10.96.9.9
  ports: [{port: 1}]
)");
  EXPECT_EQ(r.rejected, 1u);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_NE(r.diagnostics[0].message.find("already defined in a.yaml"), std::string::npos);
  EXPECT_EQ(FindService(store.Snapshot(), "db.demo.svc.cluster.local")->vips(0), "10.96.7.7");
  // Once the owner drops it, the other file's version can take over on its next apply.
  store.RemoveFile("a.yaml");
  store.ApplyFile("b.yaml", R"(apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo}
spec:
  clusterIP: 10.96.9.9
  ports: [{port: 1}]
)");
  EXPECT_EQ(FindService(store.Snapshot(), "db.demo.svc.cluster.local")->vips(0), "10.96.9.9");
}

}  // namespace
}  // namespace weft::agent
