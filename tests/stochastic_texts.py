"""Design text shared by the stochastic tests: issue 12's two weathers and staged grid.

`TWO_WEATHERS`: scenarios sunny 60 % and cloudy 40 %, a series `sun` of 6 kW (sunny) or 0 kW
(cloudy), day-ahead buy 0.10 / sell 0.05 and intraday buy 0.20 / sell 0 EUR/kWh — the issue's
hand-derived hour with a 10 kW load: expected cost 0.88 EUR, EVPI 0.24, VSS 0.048
(tests/test_stochastic.py has the derivation). `STORE_HOURS`: two hours, PV 4 kW in the first (sunny
only), a load of 4 kW in the second, a 4 kWh battery; day-ahead buy 0.15 then 0.10 EUR/kWh
(derivations where it is used). Each test writes its own header and participants around them.
"""

TWO_WEATHERS = """scenarios { sunny = 60 %; cloudy = 40 % }
series sun = by_scenario { sunny = 6 kW; cloudy = 0 kW }
grid {
  day_ahead { buy = 0.10 EUR/kWh; sell = 0.05 EUR/kWh }
  intraday  { buy = 0.20 EUR/kWh; sell = 0 EUR/kWh }
}
"""

STORE_HOURS = """horizon { start = 2021-06-07; duration = 2 h; step = 1 h }
scenarios { sunny = 60 %; cloudy = 40 % }
series sun = by_scenario { sunny = [4, 0] kW; cloudy = 0 kW }
grid {
  day_ahead { buy = [0.15, 0.10] EUR/kWh; sell = 0 EUR/kWh }
  intraday  { buy = 0.20 EUR/kWh; sell = 0 EUR/kWh }
}
participant alice {
  load { profile = [0, 4] kW }
  pv   { profile = sun }
  battery { capacity = 4 kWh; power = 4 kW }
}
"""
