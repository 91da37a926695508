#include "sip/txn/server_non_invite_machine.h"

#include <gtest/gtest.h>

#include "machine_harness.h"

namespace herald::sip::txn {
namespace {

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using State = ServerNonInviteMachine::State;
using std::chrono::seconds;

constexpr auto kUdp = Reliability::kUnreliable;
constexpr auto kTcp = Reliability::kReliable;

auto start() {
  return [](ServerNonInviteMachine& m) { return m.start(); };
}
auto request() {
  return [](ServerNonInviteMachine& m) { return m.on_request(); };
}
auto tu(ResponseClass c) {
  return [c](ServerNonInviteMachine& m) { return m.on_tu_response(c); };
}
auto transport_error() {
  return [](ServerNonInviteMachine& m) { return m.on_transport_error(); };
}

using Harness = MachineHarness<ServerNonInviteMachine>;

TEST(ServerNonInviteMachineTest, TryingDeliversAndAbsorbsRetransmissions) {
  ServerNonInviteMachine m(TimerValues{}, kUdp);
  EXPECT_EQ(to_vector(m.start()), (std::vector<Action>{act(ActionKind::kDeliverRequest)}));
  EXPECT_EQ(m.state(), State::kTrying);
  EXPECT_TRUE(m.on_request().empty());
  EXPECT_TRUE(m.on_request().empty());
  EXPECT_TRUE(m.on_transport_error().empty());  // nothing was sent yet
  EXPECT_EQ(m.state(), State::kTrying);
}

TEST(ServerNonInviteMachineTest, FullUdpTimelineThroughProceedingAndCompleted) {
  Harness h(ServerNonInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  EXPECT_TRUE(h.feed(request()).empty());
  EXPECT_EQ(to_vector(h.feed(tu(ResponseClass::kProvisional))),
            (std::vector<Action>{act(ActionKind::kSendResponse)}));
  EXPECT_EQ(h.machine().state(), State::kProceeding);
  // Proceeding: retransmitted request -> resend provisional; more provisionals are sent.
  EXPECT_EQ(to_vector(h.feed(request())), (std::vector<Action>{act(ActionKind::kResendResponse)}));
  EXPECT_EQ(to_vector(h.feed(tu(ResponseClass::kProvisional))),
            (std::vector<Action>{act(ActionKind::kSendResponse)}));
  h.advance(seconds(2));
  EXPECT_EQ(to_vector(h.feed(tu(ResponseClass::kSuccess))),
            (std::vector<Action>{act(ActionKind::kSendResponse), arm(TimerName::kJ, seconds(32))}));
  EXPECT_EQ(h.machine().state(), State::kCompleted);
  // Completed: retransmitted request -> resend final; TU responses dropped.
  EXPECT_EQ(to_vector(h.feed(request())), (std::vector<Action>{act(ActionKind::kResendResponse)}));
  EXPECT_TRUE(h.feed(tu(ResponseClass::kFinal)).empty());
  h.advance(seconds(31));
  EXPECT_FALSE(h.machine().terminated());
  h.advance(seconds(1));
  EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(34)}));
  EXPECT_EQ(h.armed_count(), 0u);
}

TEST(ServerNonInviteMachineTest, FinalFromTryingCompletes) {
  Harness h(ServerNonInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  EXPECT_EQ(to_vector(h.feed(tu(ResponseClass::kFinal))),
            (std::vector<Action>{act(ActionKind::kSendResponse), arm(TimerName::kJ, seconds(32))}));
  h.advance(seconds(32));
  EXPECT_TRUE(h.machine().terminated());
}

TEST(ServerNonInviteMachineTest, TcpFinalTerminatesAtOnce) {
  for (bool proceeding : {false, true}) {
    ServerNonInviteMachine m(TimerValues{}, kTcp);
    m.start();
    if (proceeding) m.on_tu_response(ResponseClass::kProvisional);
    EXPECT_EQ(to_vector(m.on_tu_response(ResponseClass::kFinal)),
              (std::vector<Action>{act(ActionKind::kSendResponse), act(ActionKind::kTerminated)}));
    EXPECT_TRUE(m.terminated());
    EXPECT_TRUE(m.on_request().empty());
    EXPECT_TRUE(m.on_timer(TimerName::kJ).empty());
  }
}

TEST(ServerNonInviteMachineTest, TransportErrorInProceedingOrCompletedTerminates) {
  {
    ServerNonInviteMachine m(TimerValues{}, kUdp);
    m.start();
    m.on_tu_response(ResponseClass::kProvisional);
    EXPECT_EQ(to_vector(m.on_transport_error()),
              (std::vector<Action>{act(ActionKind::kReportTransportError),
                                   act(ActionKind::kTerminated)}));
  }
  {
    Harness h(ServerNonInviteMachine(TimerValues{}, kUdp));
    h.feed(start());
    h.feed(tu(ResponseClass::kFinal));
    EXPECT_EQ(to_vector(h.feed(transport_error())),
              (std::vector<Action>{act(ActionKind::kReportTransportError), cancel(TimerName::kJ),
                                   act(ActionKind::kTerminated)}));
  }
}

}  // namespace
}  // namespace herald::sip::txn
