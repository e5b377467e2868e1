"""The fault library: what can go wrong in a chamber, what it does to sensors, yield and defects, and the fix.

Each :class:`FaultType` is the ground truth the models are measured against: the sensors it moves
(direction ``+1``/``-1`` and size in multiples of the sensor's noise sigma at full strength), the
equipment alarm codes it raises, its yield loss and defect signature (class and spatial pattern on
the glass) and the correct repair. A fault's strength at time ``t`` is
``severity * growth(t - start)``: ``ramp`` faults start at half strength and reach full strength
after ``ramp_days``; ``step`` faults are at full strength at once.

    >>> from fabmind.sim.faults import FAULT_LIBRARY
    >>> ft = FAULT_LIBRARY["rf_match_degradation"]
    >>> ft.sensors["RF_REFL_W"], ft.defect_pattern
    (1, 'donut')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FaultType:
    fault_type: str
    failure_mode: str
    subsystem: str
    equipment_process: tuple[str, ...]  # processes (cvd, etch, photo) whose chambers can have it
    root_cause: str
    sensors: dict[str, int]  # sensor -> direction (+1 up, -1 down)
    sigmas: dict[str, float]  # sensor -> shift at full strength, in noise sigmas of that sensor
    alarm_codes: tuple[str, ...]
    yield_effect: float  # yield points lost per affected run at full strength (parametric)
    defect_class: str
    defect_rate: float  # extra defects per glass at full strength
    defect_pattern: str  # edge_ring, center, scratch, random, donut, edge_loc, cluster
    repair: str
    checks: tuple[str, ...]
    symptom: str  # what an engineer sees, in words
    outcome_shift: dict[str, float] = field(default_factory=dict)  # relative shift of measured outcomes
    noise_gain: dict[str, float] = field(default_factory=dict)  # sensor -> noise multiplier at full strength
    growth: str = "ramp"  # ramp | step
    ramp_days: float = 3.0
    energy_kw: float = 0.0  # extra electric load of the tool at full strength
    fmea: tuple[int, int, int] = (6, 4, 4)  # severity, occurrence, detection (1..10)
    downtime_h: float = 6.0  # typical repair downtime

    def strength(self, severity: float, days_since_start: np.ndarray) -> np.ndarray:
        """Fault strength (0..1) at the given days since the fault started (0 before the start)."""
        d = np.asarray(days_since_start, dtype=float)
        if self.growth == "step":
            g = np.ones_like(d)
        else:
            g = 0.5 + 0.5 * np.clip(d / self.ramp_days, 0.0, 1.0)
        return np.where(d >= 0, severity * g, 0.0)


F = FaultType
FAULT_LIBRARY: dict[str, FaultType] = {f.fault_type: f for f in (
    F("rf_match_degradation", "RF match network degradation", "rf", ("cvd", "etch"),
      "vacuum variable capacitor in the RF match network worn (arcing on the plates), match cannot reach a low-reflection tune",
      {"RF_REFL_W": 1, "MATCH_C1_POS_PCT": -1, "MATCH_C2_POS_PCT": 1, "RF_VDC_V": -1},
      {"RF_REFL_W": 25, "MATCH_C1_POS_PCT": 12, "MATCH_C2_POS_PCT": 10, "RF_VDC_V": 6},
      ("E-RF-101", "E-RF-102"), 6.0, "plasma_damage", 10.0, "donut",
      "replace the load vacuum capacitor of the RF match network, re-tune the match and verify reflected power below 2 % of forward",
      ("read RF reflected power trend", "check match capacitor positions against the golden tune", "inspect RF cable and connectors"),
      "reflected RF power climbs and the match hunts; plasma unstable",
      {"uniformity_pct": 0.6, "cd_um": 0.02, "thickness_nm": -0.03}, {"RF_REFL_W": 2.0}, fmea=(7, 4, 3), downtime_h=8.0),
    F("mfc_drift", "SiH4 mass flow controller drift", "gas", ("cvd",),
      "SiH4 MFC sensor calibration drift (contamination of the thermal sensor tube) delivers less silane than set",
      {"SIH4_FLOW_SCCM": -1, "OES_SIH_INT": -1, "OES_H_INT": -1},
      {"SIH4_FLOW_SCCM": 12, "OES_SIH_INT": 15, "OES_H_INT": 8},
      ("E-GAS-151", "E-GAS-152"), 8.0, "thin_film", 5.0, "center",
      "replace or recalibrate the SiH4 MFC, then run a rate-of-rise flow verification and a deposition rate check",
      ("compare MFC reading with rate-of-rise flow check", "check OES SiH* intensity", "measure deposition rate on a monitor glass"),
      "deposition rate drops, SiH* emission weak, film thinner than target",
      {"thickness_nm": -0.08, "uniformity_pct": 0.3}, fmea=(6, 5, 5), downtime_h=4.0),
    F("o2_mfc_drift", "O2 mass flow controller drift", "gas", ("etch",),
      "O2 MFC zero/span drift delivers more oxygen than set, resist erodes faster and end point shifts",
      {"O2_FLOW_SCCM": 1, "OES_ENDPOINT_INT": -1},
      {"O2_FLOW_SCCM": 12, "OES_ENDPOINT_INT": 12},
      ("E-GAS-161",), 6.0, "residue", 6.0, "center",
      "recalibrate or replace the O2 MFC and verify the flow with a rate-of-rise test",
      ("compare MFC reading with rate-of-rise flow check", "review end-point traces"),
      "end-point signal weaker, CD shrinks, etch residue at glass centre",
      {"cd_um": -0.05, "etch_depth_nm": -0.04}, fmea=(6, 4, 5), downtime_h=4.0),
    F("throttle_valve_sticking", "throttle valve sticking", "vacuum", ("cvd", "etch"),
      "throttle valve bearing / seal worn (deposits on the flapper), valve sticks and overshoots, pressure control oscillates",
      {"THROTTLE_POS_PCT": 1, "CHAMBER_PRESS_MTORR": 1},
      {"THROTTLE_POS_PCT": 14, "CHAMBER_PRESS_MTORR": 8},
      ("E-VAC-201", "E-VAC-202"), 5.0, "film_nonuniform", 8.0, "edge_loc",
      "clean or replace the throttle valve flapper and bearing, re-learn the valve and verify pressure stability",
      ("plot throttle position and chamber pressure at 1 Hz", "run valve learn cycle", "inspect flapper for deposits"),
      "chamber pressure oscillates around set point, throttle position high and noisy",
      {"uniformity_pct": 0.5}, {"THROTTLE_POS_PCT": 3.0, "CHAMBER_PRESS_MTORR": 3.0}, fmea=(6, 5, 4), downtime_h=6.0),
    F("heater_degradation", "susceptor heater degradation", "thermal", ("cvd",),
      "outer-zone heater element of the susceptor ageing (resistance up, hot spot burnt), outer zone runs cold at full power",
      {"HEATER_POWER_PCT": 1, "HEATER_Z2_TEMP_C": -1, "HEATER_Z1_TEMP_C": -1},
      {"HEATER_POWER_PCT": 20, "HEATER_Z2_TEMP_C": 25, "HEATER_Z1_TEMP_C": 8},
      ("E-TMP-301", "E-TMP-302"), 6.0, "edge_thin_film", 10.0, "edge_ring",
      "replace the susceptor heater (outer zone element), re-calibrate thermocouples and re-qualify film uniformity",
      ("measure heater zone resistance", "compare zone temperatures with thermocouple wafer", "check heater power trend"),
      "outer heater zone temperature low while heater power is high; film thin at the glass edge",
      {"uniformity_pct": 0.8, "thickness_nm": -0.02}, fmea=(7, 3, 4), downtime_h=12.0),
    F("pump_degradation", "dry pump degradation", "vacuum", ("cvd", "etch"),
      "dry pump rotor clearance reduced by process by-product deposits and worn bearings, pump draws more current and runs hot",
      {"PUMP_CURRENT_A": 1, "PUMP_TEMP_C": 1, "FORELINE_PRESS_TORR": 1, "THROTTLE_POS_PCT": 1},
      {"PUMP_CURRENT_A": 25, "PUMP_TEMP_C": 30, "FORELINE_PRESS_TORR": 20, "THROTTLE_POS_PCT": 5},
      ("E-VAC-210", "E-VAC-211"), 3.0, "particle", 10.0, "random",
      "exchange the dry pump (rebuild off-line), purge the foreline and check the pump N2 purge flow",
      ("trend pump current and temperature", "check foreline pressure", "check pump N2 purge"),
      "pump current and body temperature creeping up, foreline pressure higher, throttle opening more",
      {}, energy_kw=3.0, fmea=(5, 5, 3), downtime_h=10.0),
    F("chuck_temp_nonuniformity", "electrostatic chuck temperature non-uniformity", "chuck", ("etch",),
      "worn ESC surface / He backside groove erosion lets helium leak at the edge; edge of the glass runs hot",
      {"CHUCK_TEMP_EDGE_C": 1, "HE_BACKSIDE_FLOW_SCCM": 1, "HE_BACKSIDE_PRESS_TORR": -1, "ESC_CURRENT_UA": 1},
      {"CHUCK_TEMP_EDGE_C": 25, "HE_BACKSIDE_FLOW_SCCM": 25, "HE_BACKSIDE_PRESS_TORR": 15, "ESC_CURRENT_UA": 10},
      ("E-CHK-401", "E-CHK-402"), 7.0, "cd_error", 8.0, "edge_ring",
      "replace the electrostatic chuck (or refurbish the He grooves), leak-check the He backside line and re-qualify CD",
      ("check He backside leak rate", "compare centre and edge chuck temperatures", "inspect ESC surface"),
      "He backside flow high, He pressure low, chuck edge hotter than centre; CD off at the glass edge",
      {"cd_um": 0.04}, fmea=(7, 4, 4), downtime_h=16.0),
    F("chamber_leak", "chamber vacuum leak", "vacuum", ("cvd", "etch"),
      "lid or slit-valve O-ring damaged, air leaks into the chamber",
      {"CHAMBER_PRESS_MTORR": 1, "OES_N2_INT": 1, "THROTTLE_POS_PCT": 1},
      {"CHAMBER_PRESS_MTORR": 10, "OES_N2_INT": 20, "THROTTLE_POS_PCT": 6},
      ("E-VAC-220", "E-VAC-221"), 5.0, "pinhole", 10.0, "random",
      "helium leak check, replace the damaged lid / slit-valve O-ring, pump down and verify rate of rise",
      ("rate-of-rise test", "helium leak check around lid and slit valve", "check OES N2 line with no N2 flowing"),
      "base pressure and rate of rise high, N2 emission line present, throttle opens further",
      {"thickness_nm": -0.02}, fmea=(8, 3, 3), downtime_h=8.0),
    F("particle_after_pm", "particle contamination after PM", "chamber", ("cvd", "etch"),
      "chamber not seasoned enough after the preventive-maintenance wet clean; residual moisture and flakes shed particles",
      {"OES_H_INT": 1, "CHAMBER_PRESS_MTORR": 1, "RF_REFL_W": 1},
      {"OES_H_INT": 15, "CHAMBER_PRESS_MTORR": 5, "RF_REFL_W": 6},
      ("E-PRT-501",), 4.0, "particle", 15.0, "cluster",
      "run the full seasoning recipe (and a second wet clean if particle counts stay high), then particle-check a monitor glass",
      ("particle count on a monitor glass", "review PM checklist (seasoning, bake-out)", "check OES H-alpha"),
      "particle counts on product high right after PM, H-alpha emission (moisture) elevated",
      {}, growth="step", fmea=(6, 5, 4), downtime_h=4.0),
    F("hotplate_zone_failure", "hot plate edge zone failure", "bake", ("photo",),
      "edge-zone heater of the soft-bake hot plate failing (SSR / heater element), edge of the glass under-baked",
      {"HOTPLATE_EDGE_C": -1, "HOTPLATE_POWER_PCT": 1},
      {"HOTPLATE_EDGE_C": 30, "HOTPLATE_POWER_PCT": 15},
      ("E-BAK-601",), 5.0, "cd_error", 7.0, "edge_ring",
      "replace the hot plate edge-zone heater / solid-state relay and re-calibrate with a thermocouple glass",
      ("map hot plate with thermocouple glass", "check heater SSR", "check edge zone power"),
      "hot plate edge zone below set point at high power; CD off at the glass edge",
      {"cd_um": 0.03}, fmea=(6, 3, 4), downtime_h=6.0),
    F("pr_dispense_degradation", "photoresist dispense pump degradation", "dispense", ("photo",),
      "dispense pump diaphragm worn / filter clogging, photoresist volume short",
      {"PR_DISPENSE_PRESS_KPA": -1, "PR_FLOW_ML_MIN": -1, "DISPENSE_PUMP_CURRENT_A": 1},
      {"PR_DISPENSE_PRESS_KPA": 20, "PR_FLOW_ML_MIN": 15, "DISPENSE_PUMP_CURRENT_A": 20},
      ("E-DSP-701",), 6.0, "coating_void", 10.0, "center",
      "replace the dispense pump filter and diaphragm, purge the line and verify the dispense volume",
      ("weigh a dispense shot", "check filter differential pressure", "inspect nozzle"),
      "dispense pressure and flow low, pump current high; coating voids in the glass centre",
      {"pr_thickness_um": -0.05, "cd_um": 0.02}, fmea=(6, 4, 4), downtime_h=3.0),
    F("spin_chuck_vacuum_leak", "spin chuck vacuum leak", "spin", ("photo",),
      "spin chuck vacuum seal worn, glass slips on the chuck during spin",
      {"VACUUM_CHUCK_KPA": 1, "SPIN_VIBRATION_MM_S": 1, "SPIN_MOTOR_CURRENT_A": 1},
      {"VACUUM_CHUCK_KPA": 25, "SPIN_VIBRATION_MM_S": 20, "SPIN_MOTOR_CURRENT_A": 8},
      ("E-SPN-801", "E-SPN-802"), 4.0, "scratch", 7.0, "scratch",
      "replace the spin chuck vacuum seal / O-ring, check the vacuum line and re-level the chuck",
      ("check chuck vacuum level with glass", "inspect chuck seal", "check spin vibration"),
      "chuck vacuum weak, spin vibration high; scratches on the back and front of the glass",
      {"pr_thickness_um": 0.02}, fmea=(5, 3, 5), downtime_h=3.0),
)}

#: Alarm code -> (subsystem, message) for every code the library raises, plus generic nuisance alarms.
ALARM_TEXT: dict[str, tuple[str, str]] = {
    "E-RF-101": ("rf", "RF reflected power above limit"),
    "E-RF-102": ("rf", "RF match tune timeout"),
    "E-GAS-151": ("gas", "SiH4 MFC flow deviation from set point"),
    "E-GAS-152": ("gas", "SiH4 MFC zero offset out of tolerance"),
    "E-GAS-161": ("gas", "O2 MFC flow deviation from set point"),
    "E-VAC-201": ("vacuum", "chamber pressure out of tolerance"),
    "E-VAC-202": ("vacuum", "throttle valve position error"),
    "E-VAC-210": ("vacuum", "dry pump current high"),
    "E-VAC-211": ("vacuum", "dry pump temperature high"),
    "E-VAC-220": ("vacuum", "base pressure high"),
    "E-VAC-221": ("vacuum", "rate-of-rise test failed"),
    "E-TMP-301": ("thermal", "heater zone temperature deviation"),
    "E-TMP-302": ("thermal", "heater output power high"),
    "E-CHK-401": ("chuck", "He backside flow high"),
    "E-CHK-402": ("chuck", "chuck edge temperature deviation"),
    "E-PRT-501": ("chamber", "particle count above limit"),
    "E-BAK-601": ("bake", "hot plate zone temperature deviation"),
    "E-DSP-701": ("dispense", "dispense pressure low"),
    "E-SPN-801": ("spin", "spin chuck vacuum low"),
    "E-SPN-802": ("spin", "spin motor vibration high"),
    "W-GEN-901": ("controls", "door interlock opened during idle"),
    "W-GEN-902": ("controls", "host communication timeout"),
    "W-GEN-903": ("controls", "substrate transfer retry"),
}
NUISANCE_ALARMS: tuple[str, ...] = ("W-GEN-901", "W-GEN-902", "W-GEN-903")


def applicable(process: str) -> list[FaultType]:
    """Fault types that can occur on chambers of the given process (cvd, etch, photo)."""
    return [f for f in FAULT_LIBRARY.values() if process in f.equipment_process]


def fault_type(name: str) -> FaultType:
    try:
        return FAULT_LIBRARY[name]
    except KeyError:
        raise KeyError(f"unknown fault type {name!r}; known: {', '.join(FAULT_LIBRARY)}") from None
