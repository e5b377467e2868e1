"""Wording for the simulated documents: subsystem texts, sensor aliases, synonyms and ticket templates.

Tickets written by different engineers name the same thing differently; these lists make the
generated tickets vary their wording (seeded) while staying consistent with the fault library.
"""

from __future__ import annotations

SUBSYSTEM_TEXT: dict[str, str] = {
    "vacuum": "The vacuum system holds the process pressure: a capacitance manometer measures chamber pressure, the "
              "throttle valve between chamber and pump regulates it, and a dry pump evacuates the chamber through the "
              "foreline. Gas load over pressure sets the throttle position.",
    "rf": "The RF system delivers 13.56 MHz power to the plasma. The generator reports forward and reflected power; "
          "the automatic match network (load capacitor C1, tune capacitor C2) transforms the plasma impedance to 50 ohm. "
          "Reflected power above 2 % of forward power indicates a match or load problem.",
    "gas": "Process gases are delivered by thermal mass flow controllers (MFC) on the gas panel. Each MFC reports its "
           "measured flow; a rate-of-rise test verifies the real flow against the reading.",
    "thermal": "The susceptor heater has an inner and an outer zone with thermocouple feedback; heater output power is "
               "the controller's demand. Chamber wall and lid are temperature controlled.",
    "mechanics": "The susceptor lift sets the gap between susceptor and showerhead (spacing).",
    "cooling": "Process cooling water / chiller loop removes heat from the chamber body, lid and chuck.",
    "plasma": "Optical emission spectroscopy (OES) monitors plasma species: SiH*, N2, H-alpha, F and the end-point channel.",
    "chuck": "The electrostatic chuck (ESC) clamps the glass; helium at the backside conducts heat to the chuck. "
             "Helium flow rises when the seal between glass and chuck degrades.",
    "chamber": "Chamber body, liners and showerhead. After each wet clean the chamber must be seasoned before product.",
    "prime": "The HMDS vapour prime unit promotes photoresist adhesion.",
    "spin": "The spin coater holds the glass by vacuum and spins it to spread the resist.",
    "dispense": "The photoresist dispense system (pump, filter, nozzle) delivers a fixed resist volume per glass.",
    "exhaust": "The coater cup exhaust removes solvent vapour and mist; humidity and temperature are controlled.",
    "bake": "Soft-bake hot plates (centre and edge zones) drive the solvent out of the resist; chill plates cool the glass.",
    "controls": "Tool controller, interlocks and host communication (SECS/GEM).",
}

#: Names engineers use for a sensor in tickets (the first is the formal one).
SENSOR_ALIASES: dict[str, tuple[str, ...]] = {
    "RF_REFL_W": ("reflected power", "RF refl", "refl. power", "reflected RF"),
    "MATCH_C1_POS_PCT": ("match C1 position", "load cap position", "C1 pos"),
    "MATCH_C2_POS_PCT": ("match C2 position", "tune cap position", "C2 pos"),
    "RF_VDC_V": ("DC bias", "Vdc", "self-bias voltage"),
    "SIH4_FLOW_SCCM": ("SiH4 flow", "silane MFC reading", "SiH4 MFC"),
    "OES_SIH_INT": ("SiH* emission", "OES SiH line", "SiH intensity"),
    "OES_H_INT": ("H-alpha emission", "OES H line", "hydrogen line intensity"),
    "O2_FLOW_SCCM": ("O2 flow", "oxygen MFC reading", "O2 MFC"),
    "OES_ENDPOINT_INT": ("end-point signal", "EPD intensity", "endpoint trace"),
    "THROTTLE_POS_PCT": ("throttle valve position", "TV position", "throttle angle"),
    "CHAMBER_PRESS_MTORR": ("chamber pressure", "process pressure", "CM pressure"),
    "HEATER_POWER_PCT": ("heater power", "heater output", "heater duty"),
    "HEATER_Z2_TEMP_C": ("outer zone temperature", "heater zone 2 temp", "edge heater temp"),
    "HEATER_Z1_TEMP_C": ("inner zone temperature", "heater zone 1 temp", "centre heater temp"),
    "PUMP_CURRENT_A": ("pump current", "dry pump amps", "pump motor current"),
    "PUMP_TEMP_C": ("pump temperature", "pump body temp", "dry pump temp"),
    "FORELINE_PRESS_TORR": ("foreline pressure", "pump inlet pressure", "fore-vacuum"),
    "CHUCK_TEMP_EDGE_C": ("chuck edge temperature", "ESC edge temp", "edge chuck temp"),
    "HE_BACKSIDE_FLOW_SCCM": ("He backside flow", "helium leak flow", "BSHe flow"),
    "HE_BACKSIDE_PRESS_TORR": ("He backside pressure", "helium pressure", "BSHe pressure"),
    "ESC_CURRENT_UA": ("ESC leakage current", "chuck current", "ESC current"),
    "OES_N2_INT": ("N2 emission line", "OES N2 peak", "nitrogen line"),
    "HOTPLATE_EDGE_C": ("hot plate edge zone temp", "HP edge temperature", "bake plate edge temp"),
    "HOTPLATE_POWER_PCT": ("hot plate power", "HP heater output", "bake plate power"),
    "PR_DISPENSE_PRESS_KPA": ("dispense pressure", "PR pressure", "resist dispense pressure"),
    "PR_FLOW_ML_MIN": ("resist flow", "PR flow", "dispense flow"),
    "DISPENSE_PUMP_CURRENT_A": ("dispense pump current", "PR pump amps", "resist pump current"),
    "VACUUM_CHUCK_KPA": ("chuck vacuum", "spin chuck vac", "vacuum hold"),
    "SPIN_VIBRATION_MM_S": ("spin vibration", "spindle vibration", "motor vibration"),
    "SPIN_MOTOR_CURRENT_A": ("spin motor current", "spindle current", "spin amps"),
}

UP = ("high", "rising", "above normal", "trending up", "elevated", "drifting up", "increased")
DOWN = ("low", "dropping", "below normal", "trending down", "reduced", "drifting down", "decreased")
OPENERS = ("Operator reported", "FDC flagged", "Shift engineer noticed", "EES alarm:", "Observed", "Reported by process:",
           "Tool stopped, found", "During monitoring we saw")
IMPACT = ("Yield drop on lots from this chamber.", "AOI showed higher defect counts.", "Lots put on hold.",
          "No product impact confirmed.", "Monitor glass out of spec.", "")

#: Ways to say the root cause of each fault type (the first is the library's own text).
ROOT_CAUSE_VARIANTS: dict[str, tuple[str, ...]] = {
    "rf_match_degradation": ("worn vacuum capacitor in RF match", "match network load cap arcing / worn",
                             "RF matchbox capacitor degraded, could not tune"),
    "mfc_drift": ("SiH4 MFC out of calibration", "silane MFC sensor drift (contaminated sensor tube)",
                  "SiH4 MFC reading offset, real flow low"),
    "o2_mfc_drift": ("O2 MFC calibration drift", "oxygen MFC over-delivering", "O2 MFC zero offset"),
    "throttle_valve_sticking": ("throttle valve sticking (deposits on flapper)", "TV bearing worn, valve sticks",
                                "throttle valve seal worn, pressure oscillating"),
    "heater_degradation": ("outer zone heater element ageing", "susceptor heater zone 2 degraded",
                           "heater element resistance up, outer zone cold"),
    "pump_degradation": ("dry pump worn (by-product deposits, bearings)", "pump rotor clearance reduced",
                         "dry pump near end of life"),
    "chuck_temp_nonuniformity": ("ESC He grooves eroded, He leaking at edge", "worn electrostatic chuck surface",
                                 "chuck edge seal band worn, edge hot"),
    "chamber_leak": ("damaged lid O-ring, air leak", "slit valve O-ring leaking", "vacuum leak at lid seal"),
    "particle_after_pm": ("insufficient seasoning after PM", "chamber not seasoned after wet clean, flaking",
                          "moisture / residue after PM wet clean"),
    "hotplate_zone_failure": ("hot plate edge heater failing", "edge zone SSR failure on hot plate",
                              "bake plate edge element open"),
    "pr_dispense_degradation": ("dispense pump diaphragm worn", "PR filter clogged, short dispense",
                                "resist pump degraded, volume short"),
    "spin_chuck_vacuum_leak": ("spin chuck vacuum seal worn", "chuck O-ring leaking, glass slipping",
                               "vacuum line leak on spin chuck"),
}

ACTION_SYNONYMS: dict[str, tuple[str, ...]] = {
    "replace": ("replace", "exchange", "swap", "change out"),
    "recalibrate": ("recalibrate", "re-calibrate", "calibrate"),
    "verify": ("verify", "confirm", "check"),
    "clean": ("clean", "wipe down", "clean up"),
}

#: Failure modes seen in past tickets that are outside the fault library (no sensor signature).
OTHER_TICKETS: tuple[tuple[str, str, str, str, str, float], ...] = (
    ("robot teach offset", "controls", "glass position error at chamber hand-off", "robot teach position drifted",
     "re-teach robot hand-off position", 2.0),
    ("slit valve door sensor failure", "controls", "slit valve open/close timeout", "door position sensor failed",
     "replace slit valve position sensor", 1.5),
    ("host communication loss", "controls", "tool offline to host, lots not dispatched", "network switch port failure",
     "replace switch port / cable, re-establish SECS/GEM link", 1.0),
    ("lift pin breakage", "mechanics", "glass not lifted, transfer alarm", "lift pin cracked",
     "replace lift pin set and verify pin height", 4.0),
)
