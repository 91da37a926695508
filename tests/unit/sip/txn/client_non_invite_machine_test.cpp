#include "sip/txn/client_non_invite_machine.h"

#include <gtest/gtest.h>

#include "machine_harness.h"

namespace herald::sip::txn {
namespace {

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using State = ClientNonInviteMachine::State;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kUdp = Reliability::kUnreliable;
constexpr auto kTcp = Reliability::kReliable;

auto start() {
  return [](ClientNonInviteMachine& m) { return m.start(); };
}
auto response(ResponseClass c) {
  return [c](ClientNonInviteMachine& m) { return m.on_response(c); };
}
auto transport_error() {
  return [](ClientNonInviteMachine& m) { return m.on_transport_error(); };
}

using Harness = MachineHarness<ClientNonInviteMachine>;

TEST(ClientNonInviteMachineTest, StartSendsAndArmsEAndFOverUdp) {
  ClientNonInviteMachine m(TimerValues{}, kUdp);
  EXPECT_EQ(to_vector(m.start()),
            (std::vector<Action>{act(ActionKind::kSendRequest), arm(TimerName::kE, milliseconds(500)),
                                 arm(TimerName::kF, seconds(32))}));
  EXPECT_EQ(m.state(), State::kTrying);
}

TEST(ClientNonInviteMachineTest, StartArmsOnlyFOverTcp) {
  ClientNonInviteMachine m(TimerValues{}, kTcp);
  EXPECT_EQ(to_vector(m.start()),
            (std::vector<Action>{act(ActionKind::kSendRequest), arm(TimerName::kF, seconds(32))}));
}

TEST(ClientNonInviteMachineTest, UdpRetransmitsCappedAtT2AndTimesOutAt32s) {
  Harness h(ClientNonInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.advance(seconds(40));
  // Sends at 0 and on Timer E at 0.5, 1.5, 3.5, 7.5, 11.5 ... (intervals 0.5, 1, 2, 4, 4, ...)
  std::vector<Duration> expected{Duration::zero()};
  Duration at = Duration::zero();
  Duration interval = milliseconds(500);
  while (at + interval < seconds(32)) {
    at += interval;
    expected.push_back(at);
    interval = std::min<Duration>(2 * interval, seconds(4));
  }
  EXPECT_EQ(h.times_of(ActionKind::kSendRequest), expected);
  EXPECT_EQ(expected.size(), 11u);  // 0, .5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5
  EXPECT_EQ(h.times_of(ActionKind::kReportTimeout), (std::vector<Duration>{seconds(32)}));
  EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(32)}));
  EXPECT_EQ(h.machine().state(), State::kTerminated);
  EXPECT_EQ(h.armed_count(), 0u);
}

TEST(ClientNonInviteMachineTest, TcpNeverRetransmitsAndTimesOutAt32s) {
  Harness h(ClientNonInviteMachine(TimerValues{}, kTcp));
  h.feed(start());
  h.advance(seconds(40));
  EXPECT_EQ(h.times_of(ActionKind::kSendRequest), (std::vector<Duration>{Duration::zero()}));
  EXPECT_EQ(h.times_of(ActionKind::kReportTimeout), (std::vector<Duration>{seconds(32)}));
  EXPECT_TRUE(h.machine().terminated());
}

TEST(ClientNonInviteMachineTest, ProvisionalMovesToProceedingWhereERetransmitsEveryT2) {
  Harness h(ClientNonInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.advance(milliseconds(600));  // one retransmission at 0.5 s; E now armed for 1 s
  EXPECT_EQ(to_vector(h.feed(response(ResponseClass::kProvisional))),
            (std::vector<Action>{act(ActionKind::kDeliverResponse)}));
  EXPECT_EQ(h.machine().state(), State::kProceeding);
  EXPECT_EQ(to_vector(h.feed(response(ResponseClass::kProvisional))),
            (std::vector<Action>{act(ActionKind::kDeliverResponse)}));
  h.advance(seconds(10) - milliseconds(600));
  // E fires at 1.5 s (armed in Trying), then every T2 = 4 s: 5.5, 9.5.
  EXPECT_EQ(h.times_of(ActionKind::kSendRequest),
            (std::vector<Duration>{Duration::zero(), milliseconds(500), milliseconds(1500),
                                   milliseconds(5500), milliseconds(9500)}));
  h.advance(seconds(30));
  EXPECT_EQ(h.times_of(ActionKind::kReportTimeout), (std::vector<Duration>{seconds(32)}));
}

TEST(ClientNonInviteMachineTest, FinalInTryingOverUdpCompletesThenTimerK) {
  for (ResponseClass c : {ResponseClass::kSuccess, ResponseClass::kFinal}) {
    Harness h(ClientNonInviteMachine(TimerValues{}, kUdp));
    h.feed(start());
    h.advance(seconds(1));
    EXPECT_EQ(to_vector(h.feed(response(c))),
              (std::vector<Action>{cancel(TimerName::kE), cancel(TimerName::kF),
                                   act(ActionKind::kDeliverResponse),
                                   arm(TimerName::kK, seconds(5))}));
    EXPECT_EQ(h.machine().state(), State::kCompleted);
    // Completed absorbs retransmitted responses and provisional stragglers.
    EXPECT_TRUE(h.feed(response(c)).empty());
    EXPECT_TRUE(h.feed(response(ResponseClass::kProvisional)).empty());
    EXPECT_TRUE(h.feed(transport_error()).empty());
    h.advance(seconds(5));
    EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(6)}));
    EXPECT_EQ(h.count(ActionKind::kSendRequest), 2u);
    EXPECT_EQ(h.count(ActionKind::kDeliverResponse), 1u);
    EXPECT_EQ(h.count(ActionKind::kReportTimeout), 0u);
  }
}

TEST(ClientNonInviteMachineTest, FinalInProceedingCompletes) {
  Harness h(ClientNonInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.feed(response(ResponseClass::kProvisional));
  h.feed(response(ResponseClass::kFinal));
  EXPECT_EQ(h.machine().state(), State::kCompleted);
  h.advance(seconds(5));
  EXPECT_TRUE(h.machine().terminated());
  EXPECT_EQ(h.count(ActionKind::kDeliverResponse), 2u);
}

TEST(ClientNonInviteMachineTest, FinalOverTcpTerminatesAtOnce) {
  ClientNonInviteMachine m(TimerValues{}, kTcp);
  m.start();
  EXPECT_EQ(to_vector(m.on_response(ResponseClass::kProvisional)),
            (std::vector<Action>{act(ActionKind::kDeliverResponse)}));
  EXPECT_EQ(to_vector(m.on_response(ResponseClass::kSuccess)),
            (std::vector<Action>{cancel(TimerName::kF), act(ActionKind::kDeliverResponse),
                                 act(ActionKind::kTerminated)}));
  EXPECT_TRUE(m.terminated());
}

TEST(ClientNonInviteMachineTest, TransportErrorInTryingOrProceedingTerminates) {
  for (bool proceeding : {false, true}) {
    Harness h(ClientNonInviteMachine(TimerValues{}, kUdp));
    h.feed(start());
    if (proceeding) h.feed(response(ResponseClass::kProvisional));
    EXPECT_EQ(to_vector(h.feed(transport_error())),
              (std::vector<Action>{act(ActionKind::kReportTransportError), cancel(TimerName::kE),
                                   cancel(TimerName::kF), act(ActionKind::kTerminated)}));
    EXPECT_TRUE(h.machine().terminated());
  }
}

TEST(ClientNonInviteMachineTest, InputsAfterTerminationAreIgnored) {
  ClientNonInviteMachine m(TimerValues{}, kTcp);
  m.start();
  m.on_transport_error();
  EXPECT_TRUE(m.on_response(ResponseClass::kFinal).empty());
  EXPECT_TRUE(m.on_timer(TimerName::kF).empty());
  EXPECT_TRUE(m.on_transport_error().empty());
}

TEST(ClientNonInviteMachineTest, UnarmedTimerIsIgnored) {
  ClientNonInviteMachine m(TimerValues{}, kTcp);
  m.start();
  EXPECT_TRUE(m.on_timer(TimerName::kE).empty());  // never armed over TCP
  EXPECT_TRUE(m.on_timer(TimerName::kK).empty());
  EXPECT_EQ(m.state(), State::kTrying);
}

}  // namespace
}  // namespace herald::sip::txn
