"""A day-by-day simulation of a clinic using pumpcare: the real services and the
real periodic jobs on a travelling clock, against a fresh database, measured against the
truth that only the simulator knows (each pump's true flow and reservoir).

Not an installed app: a plain package on the top layer (it may import every app; no app
imports it). ``world`` draws the simulated people and devices, ``run`` plays the days,
``report`` writes what happened."""
