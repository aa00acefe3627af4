"""Generated single-snapshot churn tables, shaped like a user's own export rather than crmlab's features
(``bench_churn_quality.py --tables`` and the churn quality tests).

Three shapes that ask different things of model selection, each written as a CSV of text the way exports
come (``yes``/``no`` flags, numbers with blanks, constant and id-like columns):

- ``telecom``: usage and plan columns, churn driven by thresholds and interactions (a high total bill,
  many service calls at low usage, an international plan with heavy international use). Trees should
  beat a linear model clearly.
- ``attrition``: a small HR-style table (about 1,500 rows, 16% positive), an additive logistic signal
  over ordinal scores, flags and categories, plus constant columns. The linear model should be best.
- ``subscription``: contract, services and charges, a mostly additive signal with a few interactions,
  a numeric column with blank cells (new customers' total charges). Linear and trees should be close.

The rules are invented for the benchmark; they imitate the kind of table, not any published data set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GeneratedTable:
    frame: pd.DataFrame
    target: str
    id_col: str


def _draw(rng: np.random.Generator, logit: np.ndarray) -> np.ndarray:
    return rng.random(len(logit)) < 1 / (1 + np.exp(-logit))


def _yes_no(flags: np.ndarray) -> np.ndarray:
    return np.where(flags, "yes", "no")


def telecom(n: int = 5000, seed: int = 0) -> GeneratedTable:
    rng = np.random.default_rng(seed)
    intl_plan = rng.random(n) < 0.1
    vmail_plan = rng.random(n) < 0.27
    day_min = np.clip(rng.normal(180, 54, n), 0, None)
    eve_min = np.clip(rng.normal(200, 50, n), 0, None)
    night_min = np.clip(rng.normal(200, 50, n), 0, None)
    intl_min = np.clip(rng.normal(10, 2.8, n), 0, None)
    intl_calls = rng.poisson(4.5, n)
    service_calls = rng.poisson(1.5, n)
    charge = 0.17 * day_min + 0.085 * eve_min + 0.045 * night_min + 0.27 * intl_min
    logit = (-4.6 + 5.0 * (charge > 72) + 2.6 * (charge > 66) * (charge <= 72)
             + 4.6 * (service_calls >= 4) * (day_min < 170) + 1.0 * (service_calls >= 4)
             + 5.0 * intl_plan * ((intl_min > 13) | (intl_calls <= 2)) + 0.8 * intl_plan
             - 1.6 * vmail_plan)
    frame = pd.DataFrame({
        "phone_number": [f"{rng.integers(300, 999)}-{rng.integers(1000, 9999)}-{i:05d}" for i in range(n)],
        "state": rng.choice([f"S{i:02d}" for i in range(51)], n),
        "account_length": rng.integers(1, 240, n),
        "area_code": rng.choice([408, 415, 510], n),
        "international_plan": _yes_no(intl_plan), "voice_mail_plan": _yes_no(vmail_plan),
        "number_vmail_messages": np.where(vmail_plan, rng.poisson(29, n), 0),
        "total_day_minutes": day_min.round(1), "total_day_calls": rng.poisson(100, n),
        "total_day_charge": (0.17 * day_min).round(2),
        "total_eve_minutes": eve_min.round(1), "total_eve_calls": rng.poisson(100, n),
        "total_eve_charge": (0.085 * eve_min).round(2),
        "total_night_minutes": night_min.round(1), "total_night_calls": rng.poisson(100, n),
        "total_night_charge": (0.045 * night_min).round(2),
        "total_intl_minutes": intl_min.round(1), "total_intl_calls": intl_calls,
        "total_intl_charge": (0.27 * intl_min).round(2),
        "customer_service_calls": service_calls,
        "churn": np.where(_draw(rng, logit), "True", "False"),
    })
    return GeneratedTable(frame.astype(str), "churn", "phone_number")


def attrition(n: int = 1470, seed: int = 0) -> GeneratedTable:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 61, n)
    income = np.exp(rng.normal(8.6, 0.45, n) + 0.012 * (age - 36)).round(0)
    years = np.minimum(rng.gamma(1.6, 4.5, n).round(0), age - 18)
    overtime = rng.random(n) < 0.28
    single = rng.random(n) < 0.32
    travel = rng.choice(["Non-Travel", "Travel_Rarely", "Travel_Frequently"], n, p=[0.1, 0.71, 0.19])
    role = rng.choice(["Sales Executive", "Research Scientist", "Laboratory Technician", "Manufacturing Director",
                       "Healthcare Representative", "Manager", "Sales Representative", "Research Director",
                       "Human Resources"], n, p=[0.22, 0.2, 0.18, 0.1, 0.09, 0.07, 0.06, 0.05, 0.03])
    scores = {k: rng.integers(1, 5, n) for k in ("environment_satisfaction", "job_satisfaction",
                                                  "job_involvement", "work_life_balance")}
    stock = rng.choice([0, 1, 2, 3], n, p=[0.43, 0.4, 0.11, 0.06])
    distance = rng.integers(1, 30, n)
    logit = (-2.9 + 1.5 * overtime - 0.035 * (age - 36) - 0.55 * (np.log(income) - 8.6)
             - 0.06 * (years - 7) + 0.75 * single + 0.9 * (travel == "Travel_Frequently")
             + 0.45 * (travel == "Travel_Rarely") - 0.5 * (travel == "Non-Travel")
             + 1.2 * (role == "Sales Representative") + 0.6 * (role == "Laboratory Technician")
             - 0.7 * (role == "Research Director") - 0.6 * (role == "Manager")
             - sum(0.38 * (scores[k] - 2.5) for k in scores) - 0.35 * np.minimum(stock, 1)
             + 0.03 * (distance - 9))
    frame = pd.DataFrame({
        "EmployeeNumber": np.arange(1, n + 1), "Age": age, "BusinessTravel": travel,
        "Department": np.where(np.isin(role, ["Sales Executive", "Sales Representative"]), "Sales",
                               np.where(role == "Human Resources", "Human Resources", "Research & Development")),
        "DistanceFromHome": distance, "Education": rng.integers(1, 6, n), "EmployeeCount": 1,
        "Gender": rng.choice(["Male", "Female"], n, p=[0.6, 0.4]), "JobRole": role,
        "MaritalStatus": np.where(single, "Single", rng.choice(["Married", "Divorced"], n, p=[0.67, 0.33])),
        "MonthlyIncome": income, "NumCompaniesWorked": rng.integers(0, 10, n), "Over18": "Y",
        "OverTime": np.where(overtime, "Yes", "No"), "PercentSalaryHike": rng.integers(11, 26, n),
        "StandardHours": 80, "StockOptionLevel": stock, "YearsAtCompany": years,
        "YearsInCurrentRole": np.minimum(years, rng.integers(0, 12, n)),
        **{k.title().replace("_", ""): v for k, v in scores.items()},
        "Attrition": np.where(_draw(rng, logit), "Yes", "No"),
    })
    return GeneratedTable(frame.astype(str), "Attrition", "EmployeeNumber")


def subscription(n: int = 7000, seed: int = 0) -> GeneratedTable:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 73, n)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.21, 0.24])
    internet = rng.choice(["DSL", "Fiber optic", "No"], n, p=[0.34, 0.44, 0.22])
    has_net = internet != "No"
    services = {k: np.where(has_net, _yes_no(rng.random(n) < p), "No internet service")
                for k, p in (("OnlineSecurity", 0.37), ("OnlineBackup", 0.44), ("DeviceProtection", 0.44),
                             ("TechSupport", 0.37), ("StreamingTV", 0.5), ("StreamingMovies", 0.5))}
    payment = rng.choice(["Electronic check", "Mailed check", "Bank transfer (automatic)",
                          "Credit card (automatic)"], n, p=[0.34, 0.23, 0.22, 0.21])
    monthly = (20 + 25 * (internet == "DSL") + 50 * (internet == "Fiber optic")
               + 5 * sum(v == "yes" for v in services.values()) + rng.normal(0, 3, n)).round(2)
    paperless = rng.random(n) < 0.59
    senior = rng.random(n) < 0.16
    logit = (-0.2 - 0.9 * np.log1p(tenure) + 1.0 + 1.6 * (contract == "Month-to-month")
             - 0.9 * (contract == "Two year") + 0.9 * (internet == "Fiber optic") - 0.5 * (internet == "No")
             + 0.5 * (payment == "Electronic check") - 0.45 * (services["OnlineSecurity"] == "yes")
             - 0.4 * (services["TechSupport"] == "yes") + 0.3 * paperless + 0.25 * senior
             + 0.6 * (contract == "Month-to-month") * (internet == "Fiber optic") * (tenure < 12))
    total = np.where(tenure == 0, " ", (monthly * tenure * rng.uniform(0.95, 1.05, n)).round(2).astype(str))
    frame = pd.DataFrame({
        "customerID": [f"{i:04d}-{''.join(rng.choice(list('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), 5))}" for i in range(n)],
        "gender": rng.choice(["Female", "Male"], n), "SeniorCitizen": senior.astype(int),
        "Partner": _yes_no(rng.random(n) < 0.48), "Dependents": _yes_no(rng.random(n) < 0.3),
        "tenure": tenure, "PhoneService": _yes_no(rng.random(n) < 0.9), "InternetService": internet, **services,
        "Contract": contract, "PaperlessBilling": _yes_no(paperless), "PaymentMethod": payment,
        "MonthlyCharges": monthly, "TotalCharges": total,
        "Churn": np.where(_draw(rng, logit), "Yes", "No"),
    })
    return GeneratedTable(frame.astype(str), "Churn", "customerID")


TABLES: dict[str, Callable[..., GeneratedTable]] = {
    "telecom": telecom, "attrition": attrition, "subscription": subscription,
}


def write_table(name: str, seed: int, out_dir: Path) -> tuple[Path, GeneratedTable]:
    """Generate table ``name`` with ``seed`` and write it as CSV; returns (path, table)."""
    table = TABLES[name](seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}_{seed}.csv"
    table.frame.to_csv(path, index=False)
    return path, table
