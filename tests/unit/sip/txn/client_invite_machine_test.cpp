#include "sip/txn/client_invite_machine.h"

#include <gtest/gtest.h>

#include "machine_harness.h"

namespace herald::sip::txn {
namespace {

using namespace testing_support;  // NOLINT(google-build-using-namespace)
using State = ClientInviteMachine::State;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kUdp = Reliability::kUnreliable;
constexpr auto kTcp = Reliability::kReliable;

auto start() {
  return [](ClientInviteMachine& m) { return m.start(); };
}
auto response(ResponseClass c) {
  return [c](ClientInviteMachine& m) { return m.on_response(c); };
}
auto transport_error() {
  return [](ClientInviteMachine& m) { return m.on_transport_error(); };
}

using Harness = MachineHarness<ClientInviteMachine>;

TEST(ClientInviteMachineTest, StartSendsAndArmsAAndBOverUdp) {
  ClientInviteMachine m(TimerValues{}, kUdp);
  EXPECT_EQ(to_vector(m.start()),
            (std::vector<Action>{act(ActionKind::kSendRequest),
                                 arm(TimerName::kA, milliseconds(500)),
                                 arm(TimerName::kB, seconds(32))}));
  EXPECT_EQ(m.state(), State::kCalling);
}

TEST(ClientInviteMachineTest, UdpRetransmitsAtDoublingIntervalsAndTimesOutOnTimerB) {
  Harness h(ClientInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.advance(seconds(40));
  // A: 0.5, 1, 2, 4, 8, 16 -> sends at 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5; next would be 63.5.
  EXPECT_EQ(h.times_of(ActionKind::kSendRequest),
            (std::vector<Duration>{Duration::zero(), milliseconds(500), milliseconds(1500),
                                   milliseconds(3500), milliseconds(7500), milliseconds(15500),
                                   milliseconds(31500)}));
  EXPECT_EQ(h.times_of(ActionKind::kReportTimeout), (std::vector<Duration>{seconds(32)}));
  EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(32)}));
  EXPECT_EQ(h.armed_count(), 0u);
}

TEST(ClientInviteMachineTest, TcpSendsOnceAndTimesOutOnTimerB) {
  Harness h(ClientInviteMachine(TimerValues{}, kTcp));
  h.feed(start());
  h.advance(seconds(40));
  EXPECT_EQ(h.times_of(ActionKind::kSendRequest), (std::vector<Duration>{Duration::zero()}));
  EXPECT_EQ(h.times_of(ActionKind::kReportTimeout), (std::vector<Duration>{seconds(32)}));
}

TEST(ClientInviteMachineTest, ProvisionalStopsRetransmissionsAndTimerB) {
  Harness h(ClientInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.advance(seconds(2));  // sends at 0, 0.5, 1.5
  EXPECT_EQ(to_vector(h.feed(response(ResponseClass::kProvisional))),
            (std::vector<Action>{cancel(TimerName::kA), cancel(TimerName::kB),
                                 act(ActionKind::kDeliverResponse)}));
  EXPECT_EQ(h.machine().state(), State::kProceeding);
  EXPECT_EQ(to_vector(h.feed(response(ResponseClass::kProvisional))),
            (std::vector<Action>{act(ActionKind::kDeliverResponse)}));
  h.advance(seconds(300));  // Proceeding waits for the TU (CANCEL / Timer C), not Timer B
  EXPECT_EQ(h.count(ActionKind::kSendRequest), 3u);
  EXPECT_EQ(h.count(ActionKind::kReportTimeout), 0u);
  EXPECT_EQ(h.machine().state(), State::kProceeding);
  EXPECT_EQ(h.armed_count(), 0u);
}

TEST(ClientInviteMachineTest, NonSuccessFinalSendsOneAckThenAckPerRetransmissionUntilD) {
  for (bool proceeding : {false, true}) {
    Harness h(ClientInviteMachine(TimerValues{}, kUdp));
    h.feed(start());
    if (proceeding) h.feed(response(ResponseClass::kProvisional));
    const Actions on_final = h.feed(response(ResponseClass::kFinal));
    std::vector<Action> expected;
    if (!proceeding) expected = {cancel(TimerName::kA), cancel(TimerName::kB)};
    expected.push_back(act(ActionKind::kSendAck));
    expected.push_back(act(ActionKind::kDeliverResponse));
    expected.push_back(arm(TimerName::kD, seconds(32)));
    EXPECT_EQ(to_vector(on_final), expected);
    EXPECT_EQ(h.count(ActionKind::kSendAck), 1u);
    EXPECT_EQ(h.machine().state(), State::kCompleted);

    // Retransmitted finals: ACK again, not delivered again. Others absorbed.
    h.advance(seconds(1));
    EXPECT_EQ(to_vector(h.feed(response(ResponseClass::kFinal))),
              (std::vector<Action>{act(ActionKind::kSendAck)}));
    h.advance(seconds(2));
    EXPECT_EQ(to_vector(h.feed(response(ResponseClass::kFinal))),
              (std::vector<Action>{act(ActionKind::kSendAck)}));
    EXPECT_TRUE(h.feed(response(ResponseClass::kProvisional)).empty());
    EXPECT_TRUE(h.feed(response(ResponseClass::kSuccess)).empty());
    EXPECT_EQ(h.count(ActionKind::kSendAck), 3u);
    EXPECT_EQ(h.count(ActionKind::kDeliverResponse), proceeding ? 2u : 1u);

    h.advance(seconds(29));
    EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(32)}));
    EXPECT_EQ(h.count(ActionKind::kSendRequest), 1u);
  }
}

TEST(ClientInviteMachineTest, TransportErrorInCompletedTerminates) {
  Harness h(ClientInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.feed(response(ResponseClass::kFinal));
  EXPECT_EQ(to_vector(h.feed(transport_error())),
            (std::vector<Action>{act(ActionKind::kReportTransportError), cancel(TimerName::kD),
                                 act(ActionKind::kTerminated)}));
}

TEST(ClientInviteMachineTest, NonSuccessFinalOverTcpAcksAndTerminatesAtOnce) {
  ClientInviteMachine m(TimerValues{}, kTcp);
  m.start();
  EXPECT_EQ(to_vector(m.on_response(ResponseClass::kFinal)),
            (std::vector<Action>{cancel(TimerName::kB), act(ActionKind::kSendAck),
                                 act(ActionKind::kDeliverResponse),
                                 act(ActionKind::kTerminated)}));
}

TEST(ClientInviteMachineTest, SuccessEntersAcceptedAndDeliversRetransmissionsUntilM) {
  Harness h(ClientInviteMachine(TimerValues{}, kUdp));
  h.feed(start());
  h.feed(response(ResponseClass::kProvisional));
  EXPECT_EQ(to_vector(h.feed(response(ResponseClass::kSuccess))),
            (std::vector<Action>{act(ActionKind::kDeliverResponse),
                                 arm(TimerName::kM, seconds(32))}));
  EXPECT_EQ(h.machine().state(), State::kAccepted);
  h.advance(seconds(4));
  // A 2xx retransmission (or another branch's 2xx) goes to the TU; no ACK from here.
  EXPECT_EQ(to_vector(h.feed(response(ResponseClass::kSuccess))),
            (std::vector<Action>{act(ActionKind::kDeliverResponse)}));
  EXPECT_TRUE(h.feed(response(ResponseClass::kFinal)).empty());
  EXPECT_TRUE(h.feed(response(ResponseClass::kProvisional)).empty());
  EXPECT_TRUE(h.feed(transport_error()).empty());
  h.advance(seconds(28));
  EXPECT_EQ(h.times_of(ActionKind::kTerminated), (std::vector<Duration>{seconds(32)}));
  EXPECT_EQ(h.count(ActionKind::kSendAck), 0u);
}

TEST(ClientInviteMachineTest, SuccessInCallingWithRfc3261HandlingTerminates) {
  for (Reliability r : {kUdp, kTcp}) {
    ClientInviteMachine m(TimerValues{}, r, SuccessHandling::kTerminate);
    m.start();
    std::vector<Action> expected;
    if (r == kUdp) expected.push_back(cancel(TimerName::kA));
    expected.push_back(cancel(TimerName::kB));
    expected.push_back(act(ActionKind::kDeliverResponse));
    expected.push_back(act(ActionKind::kTerminated));
    EXPECT_EQ(to_vector(m.on_response(ResponseClass::kSuccess)), expected);
    EXPECT_TRUE(m.terminated());
  }
}

TEST(ClientInviteMachineTest, SuccessInProceedingWithRfc3261HandlingTerminates) {
  ClientInviteMachine m(TimerValues{}, kUdp, SuccessHandling::kTerminate);
  m.start();
  m.on_response(ResponseClass::kProvisional);
  EXPECT_EQ(to_vector(m.on_response(ResponseClass::kSuccess)),
            (std::vector<Action>{act(ActionKind::kDeliverResponse), act(ActionKind::kTerminated)}));
}

TEST(ClientInviteMachineTest, TransportErrorInCallingOrProceedingTerminates) {
  for (bool proceeding : {false, true}) {
    Harness h(ClientInviteMachine(TimerValues{}, kUdp));
    h.feed(start());
    if (proceeding) h.feed(response(ResponseClass::kProvisional));
    std::vector<Action> expected{act(ActionKind::kReportTransportError)};
    if (!proceeding) {
      expected.push_back(cancel(TimerName::kA));
      expected.push_back(cancel(TimerName::kB));
    }
    expected.push_back(act(ActionKind::kTerminated));
    EXPECT_EQ(to_vector(h.feed(transport_error())), expected);
  }
}

TEST(ClientInviteMachineTest, ConfiguredT1ScalesRetransmissionsAndTimeout) {
  TimerValues values;
  values.t1 = milliseconds(100);
  Harness h(ClientInviteMachine(values, kUdp));
  h.feed(start());
  h.advance(seconds(10));
  // A: .1, .2, .4, .8, 1.6, 3.2 -> sends at 0, .1, .3, .7, 1.5, 3.1, 6.3; B = 6.4 s.
  EXPECT_EQ(h.times_of(ActionKind::kSendRequest),
            (std::vector<Duration>{Duration::zero(), milliseconds(100), milliseconds(300),
                                   milliseconds(700), milliseconds(1500), milliseconds(3100),
                                   milliseconds(6300)}));
  EXPECT_EQ(h.times_of(ActionKind::kReportTimeout), (std::vector<Duration>{milliseconds(6400)}));
}

TEST(ClientInviteMachineTest, InputsAfterTerminationAreIgnored) {
  ClientInviteMachine m(TimerValues{}, kTcp);
  m.start();
  m.on_response(ResponseClass::kFinal);
  ASSERT_TRUE(m.terminated());
  EXPECT_TRUE(m.on_response(ResponseClass::kFinal).empty());
  EXPECT_TRUE(m.on_timer(TimerName::kD).empty());
  EXPECT_TRUE(m.on_transport_error().empty());
}

}  // namespace
}  // namespace herald::sip::txn
