#include "sip/txn/server_invite_machine.h"

#include <gtest/gtest.h>

#include "machine_harness.h"

namespace herald::sip::txn {
namespace {

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using State = ServerInviteMachine::State;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kUdp = Reliability::kUnreliable;
constexpr auto kTcp = Reliability::kReliable;

auto start() {
  return [](ServerInviteMachine& m) { return m.start(); };
}
auto invite() {
  return [](ServerInviteMachine& m) { return m.on_request(); };
}
auto ack() {
  return [](ServerInviteMachine& m) { return m.on_ack(); };
}
auto tu(ResponseClass c) {
  return [c](ServerInviteMachine& m) { return m.on_tu_response(c); };
}
auto transport_error() {
  return [](ServerInviteMachine& m) { return m.on_transport_error(); };
}

using Harness = MachineHarness<ServerInviteMachine>;

TEST(ServerInviteMachineTest, StartDeliversAndSendsTrying) {
  ServerInviteMachine m(TimerValues{}, kUdp);
  EXPECT_EQ(to_vector(m.start()), (std::vector<Action>{act(ActionKind::kDeliverRequest),
                                                       act(ActionKind::kSendTrying)}));
  EXPECT_EQ(m.state(), State::kProceeding);
  // A retransmitted INVITE gets the 100 again.
  EXPECT_EQ(to_vector(m.on_request()), (std::vector<Action>{act(ActionKind::kResendResponse)}));
}

TEST(ServerInviteMachineTest, TryingLeftToTuAbsorbsRetransmissionsUntilAProvisional) {
  ServerInviteMachine m(TimerValues{}, kUdp, SuccessHandling::kAcceptedState,
                        TryingPolicy::kLeftToTu);
  EXPECT_EQ(to_vector(m.start()), (std::vector<Action>{act(ActionKind::kDeliverRequest)}));
  EXPECT_TRUE(m.on_request().empty());
  EXPECT_EQ(to_vector(m.on_tu_response(ResponseClass::kProvisional)),
            (std::vector<Action>{act(ActionKind::kSendResponse)}));
  EXPECT_EQ(m.state(), State::kProceeding);
  EXPECT_EQ(to_vector(m.on_request()), (std::vector<Action>{act(ActionKind::kResendResponse)}));
}

TEST(ServerInviteMachineTest, UdpFinalResentOnTimerGUntilAckThenTimerI) {
  Harness h(ServerInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.feed(tu(ResponseClass::kProvisional));
  EXPECT_EQ(to_vector(h.feed(tu(ResponseClass::kFinal))),
            (std::vector<Action>{act(ActionKind::kSendResponse),
                                 arm(TimerName::kG, milliseconds(500)),
                                 arm(TimerName::kH, seconds(32))}));
  EXPECT_EQ(h.machine().state(), State::kCompleted);
  // TU responses after the final are dropped.
  EXPECT_TRUE(h.feed(tu(ResponseClass::kFinal)).empty());
  EXPECT_TRUE(h.feed(tu(ResponseClass::kSuccess)).empty());
  h.advance(seconds(12));
  // G: .5, 1, 2, 4, 4 -> resends at .5, 1.5, 3.5, 7.5, 11.5
  EXPECT_EQ(h.times_of(ActionKind::kResendResponse),
            (std::vector<Duration>{milliseconds(500), milliseconds(1500), milliseconds(3500),
                                   milliseconds(7500), milliseconds(11500)}));
  // An INVITE retransmission in Completed also resends the final.
  EXPECT_EQ(to_vector(h.feed(invite())), (std::vector<Action>{act(ActionKind::kResendResponse)}));
  EXPECT_EQ(to_vector(h.feed(ack())),
            (std::vector<Action>{cancel(TimerName::kG), cancel(TimerName::kH),
                                 arm(TimerName::kI, seconds(5))}));
  EXPECT_EQ(h.machine().state(), State::kConfirmed);
  // Confirmed absorbs ACK and INVITE retransmissions and transport errors.
  EXPECT_TRUE(h.feed(ack()).empty());
  EXPECT_TRUE(h.feed(invite()).empty());
  EXPECT_TRUE(h.feed(transport_error()).empty());
  h.advance(seconds(5));
  EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(17)}));
  EXPECT_EQ(h.count(ActionKind::kReportTimeout), 0u);
  EXPECT_EQ(h.count(ActionKind::kResendResponse), 6u);
}

TEST(ServerInviteMachineTest, UdpTimerHReportsTimeoutWhenTheAckNeverComes) {
  Harness h(ServerInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.feed(tu(ResponseClass::kFinal));
  h.advance(seconds(40));
  // G capped at T2: .5, 1.5, 3.5, 7.5, 11.5, ..., 31.5
  EXPECT_EQ(h.count(ActionKind::kResendResponse), 10u);
  EXPECT_EQ(h.times_of(ActionKind::kReportTimeout), (std::vector<Duration>{seconds(32)}));
  EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(32)}));
  EXPECT_EQ(h.armed_count(), 0u);
}

TEST(ServerInviteMachineTest, TcpFinalIsNotRetransmittedAndAckTerminatesAtOnce) {
  Harness h(ServerInviteMachine(TimerValues{}, kTcp));
  h.feed(start());
  EXPECT_EQ(to_vector(h.feed(tu(ResponseClass::kFinal))),
            (std::vector<Action>{act(ActionKind::kSendResponse), arm(TimerName::kH, seconds(32))}));
  h.advance(seconds(10));
  EXPECT_EQ(h.count(ActionKind::kResendResponse), 0u);
  EXPECT_EQ(to_vector(h.feed(ack())),
            (std::vector<Action>{cancel(TimerName::kH), act(ActionKind::kTerminated)}));
}

TEST(ServerInviteMachineTest, TcpTimerHReportsTimeout) {
  Harness h(ServerInviteMachine(TimerValues{}, kTcp));
  h.feed(start());
  h.feed(tu(ResponseClass::kFinal));
  h.advance(seconds(40));
  EXPECT_EQ(h.times_of(ActionKind::kReportTimeout), (std::vector<Duration>{seconds(32)}));
  EXPECT_TRUE(h.machine().terminated());
}

TEST(ServerInviteMachineTest, SuccessEntersAcceptedUntilTimerL) {
  for (Reliability r : {kUdp, kTcp}) {
    Harness h(ServerInviteMachine(TimerValues{}, r));
    h.feed(start());
    EXPECT_EQ(to_vector(h.feed(tu(ResponseClass::kSuccess))),
              (std::vector<Action>{act(ActionKind::kSendResponse),
                                   arm(TimerName::kL, seconds(32))}));
    EXPECT_EQ(h.machine().state(), State::kAccepted);
    h.advance(seconds(1));
    // INVITE retransmissions are absorbed; the TU's 2xx retransmissions are sent; the ACK
    // for the 2xx is passed to the TU; non-2xx from the TU are dropped.
    EXPECT_TRUE(h.feed(invite()).empty());
    EXPECT_EQ(to_vector(h.feed(tu(ResponseClass::kSuccess))),
              (std::vector<Action>{act(ActionKind::kSendResponse)}));
    EXPECT_TRUE(h.feed(tu(ResponseClass::kFinal)).empty());
    EXPECT_TRUE(h.feed(tu(ResponseClass::kProvisional)).empty());
    EXPECT_EQ(to_vector(h.feed(ack())), (std::vector<Action>{act(ActionKind::kDeliverRequest)}));
    // A transport error is reported, but the transaction lives on to absorb retransmissions.
    EXPECT_EQ(to_vector(h.feed(transport_error())),
              (std::vector<Action>{act(ActionKind::kReportTransportError)}));
    EXPECT_EQ(h.machine().state(), State::kAccepted);
    EXPECT_EQ(h.count(ActionKind::kResendResponse), 0u);  // never retransmits 2xx itself
    h.advance(seconds(31));
    EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(32)}));
  }
}

TEST(ServerInviteMachineTest, SuccessWithRfc3261HandlingTerminatesAtOnce) {
  ServerInviteMachine m(TimerValues{}, kUdp, SuccessHandling::kTerminate);
  m.start();
  m.on_tu_response(ResponseClass::kProvisional);
  EXPECT_EQ(to_vector(m.on_tu_response(ResponseClass::kSuccess)),
            (std::vector<Action>{act(ActionKind::kSendResponse), act(ActionKind::kTerminated)}));
  EXPECT_TRUE(m.terminated());
}

TEST(ServerInviteMachineTest, AckInProceedingIsIgnored) {
  ServerInviteMachine m(TimerValues{}, kUdp);
  m.start();
  EXPECT_TRUE(m.on_ack().empty());
  EXPECT_EQ(m.state(), State::kProceeding);
}

TEST(ServerInviteMachineTest, TransportErrorInProceedingOrCompletedTerminates) {
  {
    ServerInviteMachine m(TimerValues{}, kUdp);
    m.start();
    EXPECT_EQ(to_vector(m.on_transport_error()),
              (std::vector<Action>{act(ActionKind::kReportTransportError),
                                   act(ActionKind::kTerminated)}));
  }
  {
    Harness h(ServerInviteMachine(TimerValues{}, kUdp));
    h.feed(start());
    h.feed(tu(ResponseClass::kFinal));
    EXPECT_EQ(to_vector(h.feed(transport_error())),
              (std::vector<Action>{act(ActionKind::kReportTransportError), cancel(TimerName::kG),
                                   cancel(TimerName::kH), act(ActionKind::kTerminated)}));
  }
}

TEST(ServerInviteMachineTest, InputsAfterTerminationAreIgnored) {
  ServerInviteMachine m(TimerValues{}, kTcp, SuccessHandling::kTerminate);
  m.start();
  m.on_tu_response(ResponseClass::kSuccess);
  ASSERT_TRUE(m.terminated());
  EXPECT_TRUE(m.on_request().empty());
  EXPECT_TRUE(m.on_ack().empty());
  EXPECT_TRUE(m.on_tu_response(ResponseClass::kSuccess).empty());
  EXPECT_TRUE(m.on_timer(TimerName::kL).empty());
  EXPECT_TRUE(m.on_transport_error().empty());
}

}  // namespace
}  // namespace herald::sip::txn
