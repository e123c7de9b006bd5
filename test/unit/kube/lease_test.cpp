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
  o.request_timeout = std::chrono::milliseconds(2000);
  return o;
}

// A replica's two clocks, moved by hand. Each replica has its own: their wall clocks may
// disagree by any amount, their monotonic clocks share nothing but the rate.
struct FakeClock {
  std::chrono::steady_clock::time_point mono{std::chrono::hours(1000)};
  Clock::time_point wall = kT0;
  void advance(std::chrono::seconds d) {
    mono += d;
    wall += d;
  }
  LeaseClock clock() {
    return LeaseClock{[this] { return mono; }, [this] { return wall; }};
  }
};

struct Fixture {
  ObjectStore store;
  FakeApiServer server{store.handler()};
  std::shared_ptr<Client> client() {
    KubeConfig config;
    config.server = server.url();
    return std::make_shared<Client>(config);
  }
  FakeClock ca, cb;  // replica a's and replica b's
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
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  EXPECT_TRUE(a.try_acquire_or_renew());
  EXPECT_TRUE(a.is_leader());
  auto lease = f.store.get(kPath);
  ASSERT_TRUE(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 15);
}

TEST(Lease, RenewsItsOwnLease) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  ASSERT_TRUE(a.try_acquire_or_renew());
  f.ca.advance(std::chrono::seconds(5));
  EXPECT_TRUE(a.try_acquire_or_renew());
  EXPECT_EQ(parse_time((*f.store.get(kPath))["spec"]["renewTime"]), kT0 + std::chrono::seconds(5));
  EXPECT_EQ((*f.store.get(kPath))["spec"]["leaseTransitions"], 0);
}

// Takeover follows what this replica saw, never the holder's renewTime: b's wall clock is an
// hour ahead (or behind), and it still waits a whole lease from when it first saw the record.
TEST(Lease, TakeoverWaitsALeaseFromWhenTheRecordWasSeenWhateverTheWallClocks) {
  for (auto skew : {std::chrono::hours(1), -std::chrono::hours(1)}) {
    Fixture f;
    f.cb.wall += skew;
    LeaderElector a(f.client(), options("a"), f.ca.clock());
    LeaderElector b(f.client(), options("b"), f.cb.clock());
    ASSERT_TRUE(a.try_acquire_or_renew());
    EXPECT_FALSE(b.try_acquire_or_renew());  // first sight of a's record
    f.cb.advance(std::chrono::seconds(14));
    EXPECT_FALSE(b.try_acquire_or_renew());
    EXPECT_EQ((*f.store.get(kPath))["spec"]["holderIdentity"], "a");
    f.cb.advance(std::chrono::seconds(2));  // unchanged for 16 s > 15 s: a is gone
    EXPECT_TRUE(b.try_acquire_or_renew());
    auto lease = *f.store.get(kPath);
    EXPECT_EQ(lease["spec"]["holderIdentity"], "b");
    EXPECT_EQ(lease["spec"]["leaseTransitions"], 1);
  }
}

TEST(Lease, ARenewalRestartsTheTakeoverClock) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  LeaderElector b(f.client(), options("b"), f.cb.clock());
  ASSERT_TRUE(a.try_acquire_or_renew());
  EXPECT_FALSE(b.try_acquire_or_renew());
  f.cb.advance(std::chrono::seconds(10));
  f.ca.advance(std::chrono::seconds(10));
  ASSERT_TRUE(a.try_acquire_or_renew());  // a new record
  EXPECT_FALSE(b.try_acquire_or_renew());
  f.cb.advance(std::chrono::seconds(10));  // 20 s since b first looked, 10 s since the renewal
  EXPECT_FALSE(b.try_acquire_or_renew());
  f.cb.advance(std::chrono::seconds(6));
  EXPECT_TRUE(b.try_acquire_or_renew());
  // The old holder learns on its next round that it lost the lease.
  f.ca.advance(std::chrono::seconds(1));
  EXPECT_FALSE(a.try_acquire_or_renew());
  EXPECT_FALSE(a.is_leader());
}

// is_leader() is bounded by the clock, not by the next round: a leader whose renewals stop
// (a hung request, a stuck thread) stops acting at renew_deadline, before anyone may take over.
TEST(Lease, LeadershipLapsesAtTheRenewDeadlineWithoutAnotherRound) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  ASSERT_TRUE(a.try_acquire_or_renew());
  f.ca.advance(std::chrono::seconds(9));
  EXPECT_TRUE(a.is_leader());
  f.ca.advance(std::chrono::seconds(1));
  EXPECT_FALSE(a.is_leader());            // 10 s: the deadline, 5 s before a takeover could happen
  EXPECT_TRUE(a.try_acquire_or_renew());  // still its lease: it renews and leads again
  EXPECT_TRUE(a.is_leader());
}

TEST(Lease, StepsDownWhenItsRenewalConflicts) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  ASSERT_TRUE(a.try_acquire_or_renew());
  f.store.race_next_puts(1, [](nlohmann::json& lease) { lease["spec"]["holderIdentity"] = "c"; });
  f.ca.advance(std::chrono::seconds(5));
  EXPECT_FALSE(a.try_acquire_or_renew());
  EXPECT_FALSE(a.is_leader());
}

TEST(Lease, StepsDownWhenTheApiserverIsGonePastTheDeadline) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  ASSERT_TRUE(a.try_acquire_or_renew());
  f.store.set_unavailable(true);
  f.ca.advance(std::chrono::seconds(5));
  EXPECT_TRUE(a.try_acquire_or_renew());  // still within the deadline
  f.ca.advance(std::chrono::seconds(5));
  EXPECT_FALSE(a.try_acquire_or_renew());
  f.store.set_unavailable(false);
  f.ca.advance(std::chrono::seconds(1));
  EXPECT_TRUE(a.try_acquire_or_renew());  // still ours: renew
}

// A request that hangs gives up after request_timeout, well inside the renew deadline.
TEST(Lease, AHungRequestEndsWithinTheRequestTimeout) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  ASSERT_TRUE(a.try_acquire_or_renew());
  f.store.set_hang(std::chrono::milliseconds(3500));
  const auto t0 = std::chrono::steady_clock::now();
  a.try_acquire_or_renew();
  const auto took = std::chrono::steady_clock::now() - t0;
  f.store.set_hang(std::chrono::milliseconds(0));
  EXPECT_LT(took, std::chrono::milliseconds(3000));  // request_timeout is 2 s in these tests
  EXPECT_GE(took, std::chrono::milliseconds(1900));
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
  LeaderElector b(f.client(), options("b"), f.cb.clock());
  EXPECT_FALSE(b.try_acquire_or_renew());
  EXPECT_FALSE(b.is_leader());
  EXPECT_EQ((*f.store.get(kPath))["spec"]["holderIdentity"], "a");
  EXPECT_EQ(f.store.writes(), 1);  // a's create only
  // The next round b reads a's fresh Lease and still does not lead.
  f.cb.advance(std::chrono::seconds(1));
  EXPECT_FALSE(b.try_acquire_or_renew());
}

TEST(Lease, OnlyOneOfTwoCreatorsLeads) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  LeaderElector b(f.client(), options("b"), f.cb.clock());
  EXPECT_TRUE(a.try_acquire_or_renew());
  EXPECT_FALSE(b.try_acquire_or_renew());
}

TEST(Lease, AReleasedLeaseIsTakenAtTheStandbysNextRound) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  LeaderElector b(f.client(), options("b"), f.cb.clock());
  ASSERT_TRUE(a.try_acquire_or_renew());
  EXPECT_FALSE(b.try_acquire_or_renew());
  f.ca.advance(std::chrono::seconds(2));
  EXPECT_TRUE(a.release());
  EXPECT_FALSE(a.is_leader());
  auto lease = *f.store.get(kPath);
  EXPECT_EQ(lease["spec"]["holderIdentity"], "");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 1);
  EXPECT_EQ(parse_time(lease["spec"]["renewTime"]), kT0 + std::chrono::seconds(2));
  EXPECT_FALSE(a.release());              // not a's any more: nothing written
  f.cb.advance(std::chrono::seconds(1));  // far less than a lease
  EXPECT_TRUE(b.try_acquire_or_renew());
  EXPECT_EQ((*f.store.get(kPath))["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*f.store.get(kPath))["spec"]["leaseDurationSeconds"], 15);
}

TEST(Lease, AFollowerReleasesNothing) {
  Fixture f;
  LeaderElector a(f.client(), options("a"), f.ca.clock());
  LeaderElector b(f.client(), options("b"), f.cb.clock());
  ASSERT_TRUE(a.try_acquire_or_renew());
  EXPECT_FALSE(b.try_acquire_or_renew());
  EXPECT_FALSE(b.release());
  EXPECT_EQ((*f.store.get(kPath))["spec"]["holderIdentity"], "a");
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
  EXPECT_EQ((*f.store.get(kPath))["spec"]["holderIdentity"], "");  // released on stop
}

}  // namespace
}  // namespace gpushare::kube
