// Leader election on a Lease: acquire when absent, renew, no takeover while the holder is
// fresh, takeover once renewTime + duration has passed, step down on conflict or when the
// apiserver has been unreachable past the renew deadline.
#include "kube/lease.h"

#include <gtest/gtest.h>

#include "test/unit/kube/object_store.h"

namespace gpushare::kube {
namespace {

using Clock = std::chrono::system_clock;
using testing::FakeApiServer;
using testing::ObjectStore;

const std::string kPath = "/apis/coordination.k8s.io/v1/namespaces/gs/leases/repart";
const Clock::time_point kT0 = Clock::time_point(std::chrono::seconds(1'800'000'000));

LeaseOptions options(const std::string& identity) {
  LeaseOptions o;
  o.namespace_name = "gs";
  o.name = "repart";
  o.identity = identity;
  return o;
}

struct Fixture {
  ObjectStore store;
  FakeApiServer server{store.handler()};
  std::shared_ptr<Client> client() {
    KubeConfig config;
    config.server = server.url();
    return std::make_shared<Client>(config);
  }
};

TEST(LeaseTime, MicroTimeRoundTrips) {
  auto t = kT0 + std::chrono::microseconds(123456);
  EXPECT_EQ(micro_time(t), "2027-01-15T08:00:00.123456Z");
  EXPECT_EQ(parse_time(micro_time(t)), t);
  EXPECT_EQ(parse_time("2027-01-15T08:00:00Z"), kT0);
  EXPECT_FALSE(parse_time("yesterday"));
}

TEST(LeaseTime, DefaultIdentityIsUnique) { EXPECT_NE(default_identity(), default_identity()); }

TEST(Lease, CreatesTheLeaseWhenAbsent) {
  Fixture f;
  LeaderElector a(f.client(), options("a"));
  EXPECT_TRUE(a.try_acquire_or_renew(kT0));
  EXPECT_TRUE(a.is_leader());
  auto lease = f.store.get(kPath);
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 15);
}

TEST(Lease, RenewsItsOwnLease) {
  Fixture f;
  LeaderElector a(f.client(), options("a"));
  ASSERT_TRUE(a.try_acquire_or_renew(kT0));
  EXPECT_TRUE(a.try_acquire_or_renew(kT0 + std::chrono::seconds(5)));
  EXPECT_EQ(parse_time((*f.store.get(kPath))["spec"]["renewTime"]), kT0 + std::chrono::seconds(5));
  EXPECT_EQ((*f.store.get(kPath))["spec"]["leaseTransitions"], 0);
}

TEST(Lease, DoesNotTakeOverAFreshLease) {
  Fixture f;
  LeaderElector a(f.client(), options("a"));
  LeaderElector b(f.client(), options("b"));
  ASSERT_TRUE(a.try_acquire_or_renew(kT0));
  EXPECT_FALSE(b.try_acquire_or_renew(kT0 + std::chrono::seconds(14)));
  EXPECT_FALSE(b.is_leader());
  EXPECT_EQ((*f.store.get(kPath))["spec"]["holderIdentity"], "a");
}

TEST(Lease, TakesOverAnExpiredLease) {
  Fixture f;
  LeaderElector a(f.client(), options("a"));
  LeaderElector b(f.client(), options("b"));
  ASSERT_TRUE(a.try_acquire_or_renew(kT0));
  EXPECT_TRUE(b.try_acquire_or_renew(kT0 + std::chrono::seconds(16)));
  auto lease = *f.store.get(kPath);
  EXPECT_EQ(lease["spec"]["holderIdentity"], "b");
  EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  // The old holder learns on its next round that it lost the lease.
  EXPECT_FALSE(a.try_acquire_or_renew(kT0 + std::chrono::seconds(17)));
  EXPECT_FALSE(a.is_leader());
}

TEST(Lease, StepsDownWhenItsRenewalConflicts) {
  Fixture f;
  LeaderElector a(f.client(), options("a"));
  ASSERT_TRUE(a.try_acquire_or_renew(kT0));
  f.store.race_next_puts(1, [](nlohmann::json& lease) { lease["spec"]["holderIdentity"] = "c"; });
  EXPECT_FALSE(a.try_acquire_or_renew(kT0 + std::chrono::seconds(5)));
  EXPECT_FALSE(a.is_leader());
}

TEST(Lease, StepsDownWhenTheApiserverIsGonePastTheDeadline) {
  Fixture f;
  LeaderElector a(f.client(), options("a"));
  ASSERT_TRUE(a.try_acquire_or_renew(kT0));
  f.store.set_unavailable(true);
  EXPECT_TRUE(a.try_acquire_or_renew(kT0 + std::chrono::seconds(5)));  // still within the deadline
  EXPECT_FALSE(a.try_acquire_or_renew(kT0 + std::chrono::seconds(10)));
  f.store.set_unavailable(false);
  EXPECT_TRUE(a.try_acquire_or_renew(kT0 + std::chrono::seconds(11)));  // still ours: renew
}

TEST(Lease, LosingTheCreateRaceDoesNotLead) {
  // Both replicas read 404; "a" creates the Lease between b's read and b's create, so b's create
  // meets 409 AlreadyExists. b must not lead, and a's Lease stays as a wrote it.
  Fixture f;
  nlohmann::json held = {
      {"apiVersion", "coordination.k8s.io/v1"},
      {"kind", "Lease"},
      {"metadata", {{"name", "repart"}, {"namespace", "gs"}}},
      {"spec",
       {{"holderIdentity", "a"}, {"leaseDurationSeconds", 15}, {"renewTime", micro_time(kT0)}}}};
  f.store.race_next_create(held);
  LeaderElector b(f.client(), options("b"));
  EXPECT_FALSE(b.try_acquire_or_renew(kT0));
  EXPECT_FALSE(b.is_leader());
  EXPECT_EQ((*f.store.get(kPath))["spec"]["holderIdentity"], "a");
  EXPECT_EQ(f.store.writes(), 1);  // a's create only
  // The next round b reads a's fresh Lease and still does not lead.
  EXPECT_FALSE(b.try_acquire_or_renew(kT0 + std::chrono::seconds(1)));
}

TEST(Lease, OnlyOneOfTwoCreatorsLeads) {
  Fixture f;
  LeaderElector a(f.client(), options("a"));
  LeaderElector b(f.client(), options("b"));
  EXPECT_TRUE(a.try_acquire_or_renew(kT0));
  EXPECT_FALSE(b.try_acquire_or_renew(kT0));
}

TEST(Lease, ThreadAcquiresAndStops) {
  Fixture f;
  LeaderElector a(f.client(), options("a"));
  a.start();
  for (int i = 0; i < 100 && !a.is_leader(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(a.is_leader());
  a.stop();
  EXPECT_FALSE(a.is_leader());
}

}  // namespace
}  // namespace gpushare::kube
