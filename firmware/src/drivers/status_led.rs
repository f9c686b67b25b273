//! The status output: accept, reject and busy patterns on one LED (any `OutputPin`).

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;

/// What the device tells the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status {
    /// Verified: one long glow (800 ms).
    Accept,
    /// Rejected: three quick blinks (100 ms on, 100 ms off).
    Reject,
    /// Working: one short heartbeat (50 ms on, 450 ms off); repeat it while busy.
    Busy,
}

/// One step of a pattern: the LED state and how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Step {
    /// Lit or dark.
    pub on: bool,
    /// Milliseconds.
    pub ms: u32,
}

const fn step(on: bool, ms: u32) -> Step {
    Step { on, ms }
}

const ACCEPT: [Step; 2] = [step(true, 800), step(false, 200)];
const REJECT: [Step; 6] = [
    step(true, 100),
    step(false, 100),
    step(true, 100),
    step(false, 100),
    step(true, 100),
    step(false, 100),
];
const BUSY: [Step; 2] = [step(true, 50), step(false, 450)];

impl Status {
    /// The pattern, ending dark; a timer-driven application can play it without blocking.
    pub const fn pattern(self) -> &'static [Step] {
        match self {
            Status::Accept => &ACCEPT,
            Status::Reject => &REJECT,
            Status::Busy => &BUSY,
        }
    }
}

/// The pin failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<E> {
    /// The `OutputPin` error.
    Pin(E),
}

/// An LED on an `OutputPin`, lit by a high level or, with `active_low`, by a low one.
#[derive(Debug)]
pub struct StatusLed<P> {
    pin: P,
    active_low: bool,
}

impl<P: OutputPin> StatusLed<P> {
    /// An LED lit when the pin is high.
    pub fn new(pin: P) -> Self {
        Self {
            pin,
            active_low: false,
        }
    }

    /// An LED lit when the pin is low (wired to the supply).
    pub fn active_low(pin: P) -> Self {
        Self {
            pin,
            active_low: true,
        }
    }

    /// Hands the pin back.
    pub fn release(self) -> P {
        self.pin
    }

    /// Lights (`true`) or darkens the LED.
    pub fn set(&mut self, on: bool) -> Result<(), Error<P::Error>> {
        if on != self.active_low {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        }
        .map_err(Error::Pin)
    }

    /// Plays `status`'s pattern, blocking on `delay`; the LED ends dark.
    pub fn show<D: DelayNs>(
        &mut self,
        status: Status,
        delay: &mut D,
    ) -> Result<(), Error<P::Error>> {
        debug!("status {}", status);
        for s in status.pattern() {
            self.set(s.on)?;
            delay.delay_ms(s.ms);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as DelayT};
    use embedded_hal_mock::eh1::digital::{Mock, State, Transaction as PinT};
    use embedded_hal_mock::eh1::MockError;

    #[test]
    fn patterns_drive_the_pin_with_their_timing() {
        let pin = Mock::new(&[
            PinT::set(State::High),
            PinT::set(State::Low),
            PinT::set(State::High),
            PinT::set(State::Low),
            PinT::set(State::High),
            PinT::set(State::Low),
            PinT::set(State::High),
            PinT::set(State::Low),
        ]);
        let mut delay = CheckedDelay::new(&[
            DelayT::delay_ms(800),
            DelayT::delay_ms(200),
            DelayT::delay_ms(100),
            DelayT::delay_ms(100),
            DelayT::delay_ms(100),
            DelayT::delay_ms(100),
            DelayT::delay_ms(100),
            DelayT::delay_ms(100),
        ]);
        let mut led = StatusLed::new(pin);
        assert_eq!(led.show(Status::Accept, &mut delay), Ok(()));
        assert_eq!(led.show(Status::Reject, &mut delay), Ok(()));
        led.release().done();
        delay.done();
        assert_eq!(
            Status::Busy.pattern().iter().map(|s| s.ms).sum::<u32>(),
            500
        );
    }

    #[test]
    fn active_low_inverts_and_pin_errors_propagate() {
        let err = MockError::Io(std::io::ErrorKind::NotConnected);
        let pin = Mock::new(&[
            PinT::set(State::Low),
            PinT::set(State::High),
            PinT::set(State::Low).with_error(err.clone()),
        ]);
        let mut led = StatusLed::active_low(pin);
        assert_eq!(led.set(true), Ok(()));
        assert_eq!(led.set(false), Ok(()));
        let mut delay = CheckedDelay::new(&[]);
        assert_eq!(led.show(Status::Busy, &mut delay), Err(Error::Pin(err)));
        led.release().done();
        delay.done();
    }
}
