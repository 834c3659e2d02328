"""Fact values for the fictional seed documents: word pools and numeric samplers, one sampler per category.

Every value is the exact string the document states and the gold answer a judge compares against (``1.2kg``,
``2019年``, ``$320 million``). Numbers are drawn from plausible ranges for their unit (``PLAUSIBLE`` documents them
and the tests check them); pool values are dealt like cards (``Deck``) so ten documents of one category rarely
share a value, which keeps one document's answer from being guessable from another's.
"""

from __future__ import annotations

import math
import random
from typing import Callable

from kinject.pipelines.names import NameBook

# Parallel (ja, en) pools: the same seed gives the same document content in both languages.
PLACES = (
    ("食品工場", "food factories"), ("物流倉庫", "logistics warehouses"), ("総合病院", "general hospitals"),
    ("建設現場", "construction sites"), ("研究施設", "research laboratories"), ("農業ハウス", "greenhouses"),
    ("小学校", "primary schools"), ("飲食店の厨房", "restaurant kitchens"), ("港湾施設", "port facilities"),
    ("介護施設", "care homes"), ("印刷工場", "printing plants"), ("空港の整備場", "airport hangars"),
)
USES = (
    ("部品の検査", "inspecting parts"), ("床の清掃", "cleaning floors"), ("在庫の計数", "counting stock"),
    ("温度の記録", "logging temperatures"), ("荷物の搬送", "moving parcels"), ("空気の浄化", "purifying the air"),
    ("書類の仕分け", "sorting documents"), ("食材の下処理", "preparing ingredients"), ("配管の点検", "checking pipes"),
    ("苗の育成", "raising seedlings"), ("騒音の測定", "measuring noise"), ("照明の制御", "controlling lighting"),
)
FEATURES = (
    ("自動洗浄機能", "a self-cleaning function"), ("低騒音設計", "a low-noise design"),
    ("防水構造", "a waterproof housing"), ("折りたたみ式の本体", "a foldable body"),
    ("遠隔監視機能", "remote monitoring"), ("高精度の光学センサー", "a high-precision optical sensor"),
    ("省エネ運転モード", "an energy-saving mode"), ("抗菌コーティング", "an antibacterial coating"),
    ("交換式バッテリー", "a swappable battery"), ("音声操作機能", "voice control"),
    ("耐熱セラミック部品", "heat-resistant ceramic parts"), ("自動校正機能", "automatic calibration"),
)
CITIES = (
    ("札幌市", "Sapporo"), ("仙台市", "Sendai"), ("新潟市", "Niigata"), ("金沢市", "Kanazawa"), ("静岡市", "Shizuoka"),
    ("浜松市", "Hamamatsu"), ("名古屋市", "Nagoya"), ("京都市", "Kyoto"), ("岡山市", "Okayama"), ("広島市", "Hiroshima"),
    ("高松市", "Takamatsu"), ("松山市", "Matsuyama"), ("福岡市", "Fukuoka"), ("熊本市", "Kumamoto"), ("那覇市", "Naha"),
    ("横浜市", "Yokohama"), ("千葉市", "Chiba"), ("長野市", "Nagano"),
)
BUSINESSES = (
    ("業務用空調機器の製造", "making commercial air conditioners"), ("物流倉庫の運営", "running logistics warehouses"),
    ("医療用ソフトウェアの開発", "developing medical software"), ("建設機械のレンタル", "renting construction machinery"),
    ("食品包装材の製造", "making food packaging"), ("産業用ロボットの設計", "designing industrial robots"),
    ("社員食堂の運営", "running staff cafeterias"), ("精密ねじの製造", "making precision screws"),
    ("太陽光発電所の保守", "maintaining solar power plants"), ("農業用ドローンの販売", "selling farm drones"),
    ("電子部品の受託検査", "testing electronic components"), ("学習教材の出版", "publishing study materials"),
)
EQUIPMENT = (
    ("冷却ポンプ", "cooling pump"), ("空気圧縮機", "air compressor"), ("搬送コンベヤ", "conveyor line"),
    ("排水フィルター", "drain filter"), ("自動包装機", "packaging machine"), ("恒温槽", "constant-temperature bath"),
    ("射出成形機", "injection moulding machine"), ("集塵機", "dust collector"), ("給湯ボイラー", "hot-water boiler"),
    ("洗浄タンク", "washing tank"), ("裁断機", "cutting machine"), ("計量ホッパー", "weighing hopper"),
)
TOOLS = (
    ("トルクレンチ", "torque wrench"), ("絶縁ドライバー", "insulated screwdriver"), ("圧力計", "pressure gauge"),
    ("赤外線温度計", "infrared thermometer"), ("ナイロンブラシ", "nylon brush"), ("六角レンチ", "hex key"),
    ("漏電チェッカー", "leakage tester"), ("内視鏡カメラ", "borescope camera"), ("グリースガン", "grease gun"),
    ("デジタルノギス", "digital caliper"),
)
FIRST_STEPS = (
    ("電源の遮断", "switching off the main power"), ("残圧の解放", "releasing the residual pressure"),
    ("作業区域の区画", "fencing off the work area"), ("冷却水の排出", "draining the cooling water"),
    ("稼働記録の確認", "reading the operating log"), ("保護具の着用確認", "checking everyone's protective gear"),
    ("残った原料の抜き取り", "removing leftover material"), ("管理者への作業連絡", "notifying the shift manager"),
)
DEPARTMENTS = (
    ("設備管理課", "the Facilities Section"), ("製造技術課", "the Production Engineering Section"),
    ("品質保証部", "the Quality Assurance Department"), ("安全衛生課", "the Health and Safety Section"),
    ("保全チーム", "the Maintenance Team"), ("生産管理部", "the Production Control Department"),
    ("総務部", "the General Affairs Department"), ("物流部", "the Logistics Department"),
    ("研究開発部", "the Research and Development Department"), ("情報システム部", "the IT Department"),
)
MEANINGS = (
    ("在庫棚卸しの合同作業", "the joint stocktaking session"), ("新製品の社内試用会", "the in-house trial of new products"),
    ("部署横断の改善提案会", "the cross-department improvement meeting"),
    ("新入社員の職場見学", "the workplace tour for new hires"), ("全員参加の安全確認ミーティング", "the all-staff safety briefing"),
    ("顧客の声の共有会", "the customer feedback review"), ("設備の一斉清掃", "the all-hands equipment cleaning"),
    ("在宅勤務者の交流会", "the remote workers' social hour"), ("不良品の原因検討会", "the defect root-cause review"),
    ("防災訓練の反省会", "the fire drill debrief"), ("若手技術者の勉強会", "the junior engineers' study group"),
    ("取引先向けの工場案内", "the factory tour for business partners"),
)
ORIGINS = (
    ("創業者の口癖", "a favourite saying of the founder"), ("社内公募で選ばれた案", "an internal naming contest"),
    ("最初に使った会議室の名前", "the name of the first meeting room used"),
    ("社内報の連載タイトル", "the title of a newsletter column"), ("初代の世話役のあだ名", "the first organiser's nickname"),
    ("古い試作機の愛称", "the nickname of an old prototype"), ("社員旅行で訪れた島の名前", "an island visited on a staff trip"),
    ("地元の方言", "a word from the local dialect"),
)
WEEKDAYS = (("月", "Monday"), ("火", "Tuesday"), ("水", "Wednesday"), ("木", "Thursday"), ("金", "Friday"))
ORDINALS = ("first", "second", "third", "fourth")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

# Plausible ranges per unit, as drawn below; the tests parse the values back and check them against these.
PLAUSIBLE = {
    "release_year": (1995, 2024), "founded_year": (1950, 2015), "introduced_year": (1995, 2024),
    "effective_year": (2015, 2024), "weight_kg": (0.1, 50), "power_w": (5, 2000), "speed_ratio": (1.2, 4.0),
    "employees": (10, 50_000), "offices": (2, 60), "minimum_age": (13, 20), "max_devices": (2, 10),
    "duration_min": (15, 180), "workers": (1, 6), "temperature_c": (30, 90), "participants": (4, 40),
    "frequency_months": (1, 12),
}


class Deck:
    """Deals pool entries without replacement, reshuffling when empty: values spread evenly over documents."""

    def __init__(self, rng: random.Random, pool: tuple) -> None:
        self.rng, self.pool, self.cards = rng, pool, []

    def deal(self):
        if not self.cards:
            self.cards = list(self.pool)
            self.rng.shuffle(self.cards)
        return self.cards.pop()


class ValueSampler:
    """Draws one document's attribute values per category; holds the decks so the whole set is dealt once."""

    def __init__(self, rng: random.Random, names: NameBook, lang: str) -> None:
        self.rng, self.names, self.lang = rng, names, lang
        self._decks: dict[int, Deck] = {}
        self.by_category: dict[str, Callable[[], dict[str, str]]] = {
            "product": self.product, "company": self.company, "terms": self.terms,
            "procedure": self.procedure, "glossary": self.glossary,
        }

    # -- helpers --------------------------------------------------------------------------------------------------

    def _pick(self, pool: tuple) -> str:
        deck = self._decks.setdefault(id(pool), Deck(self.rng, pool))
        ja, en = deck.deal()
        return ja if self.lang == "ja" else en

    def _t(self, ja: str, en: str) -> str:
        return ja if self.lang == "ja" else en

    def _log_uniform(self, lo: float, hi: float) -> float:
        return math.exp(self.rng.uniform(math.log(lo), math.log(hi)))

    @staticmethod
    def _sig3(x: float) -> int:
        """Three significant figures: 1,247 -> 1,250; specific enough to be a fact, round enough to be real."""
        if x < 100:
            return round(x)
        digits = int(math.floor(math.log10(x))) - 2
        return int(round(x, -digits))

    def _money(self, amount: float) -> str:
        """億円 (ja) or million USD (en): integers from 10 up, one decimal below."""
        text = f"{amount:,.0f}" if amount >= 10 else f"{max(amount, 0.1):.1f}"
        return self._t(f"{text}億円", f"${text} million")

    # -- categories -----------------------------------------------------------------------------------------------

    def product(self) -> dict[str, str]:
        r = self.rng
        year = r.randint(*PLAUSIBLE["release_year"])
        weight = self._log_uniform(*PLAUSIBLE["weight_kg"])
        weight_s = f"{weight:.1f}" if weight < 10 else f"{weight:.0f}"
        power = self._log_uniform(*PLAUSIBLE["power_w"])
        power_s = str(round(power) if power < 100 else int(round(power, -1)))
        ratio = f"{r.randint(12, 40) / 10:.1f}"
        return {
            "release_year": self._t(f"{year}年", str(year)),
            "feature": self._pick(FEATURES),
            "place": self._pick(PLACES),
            "use": self._pick(USES),
            "previous_product": self.names.product(),
            "speed_ratio": self._t(f"{ratio}倍", f"{ratio} times"),
            "power": self._t(f"{power_s}W", f"{power_s} W"),
            "weight": self._t(f"{weight_s}kg", f"{weight_s} kg"),
        }

    def company(self) -> dict[str, str]:
        r = self.rng
        year = r.randint(*PLAUSIBLE["founded_year"])
        employees = self._sig3(self._log_uniform(*PLAUSIBLE["employees"]))
        # Revenue per employee: about 0.15–0.6 億円 (ja) or 0.1–0.45 million USD (en); ordinary profit 3–15 %.
        revenue = employees * (r.uniform(0.15, 0.6) if self.lang == "ja" else r.uniform(0.1, 0.45))
        revenue = max(round(revenue), 1) if revenue >= 10 else max(round(revenue, 1), 1.0)
        profit = revenue * r.uniform(0.03, 0.15)
        profit = round(profit) if profit >= 10 else round(profit, 1)
        # A firm of 40 people does not run 40 offices: at most one office per ~25 employees.
        offices = r.randint(PLAUSIBLE["offices"][0], max(2, min(PLAUSIBLE["offices"][1], employees // 25)))
        return {
            "founded_year": self._t(f"{year}年", str(year)),
            "headquarters": self._pick(CITIES),
            "ceo": self.names.person(),
            "employees": self._t(f"{employees:,}名", f"{employees:,} employees"),
            "revenue": self._money(revenue),
            "ordinary_profit": self._money(profit),
            "main_business": self._pick(BUSINESSES),
            "offices": self._t(f"{offices}か所", f"{offices} offices"),
        }

    def terms(self) -> dict[str, str]:
        r = self.rng
        y, m, d = r.randint(*PLAUSIBLE["effective_year"]), r.randint(1, 12), r.randint(1, 28)
        age = r.choice((13, 15, 16, 18, 20))
        fee_ja, fee_en = r.randint(30, 498) * 10, r.randint(2, 49)
        notice, refund, keep = r.choice((7, 10, 14, 30, 60)), r.choice((3, 5, 8, 15, 20)), r.choice((60, 90, 180, 365))
        devices = r.randint(*PLAUSIBLE["max_devices"])
        return {
            "provider": self.names.company(),
            "effective_date": self._t(f"{y}年{m}月{d}日", f"{MONTHS[m - 1]} {d}, {y}"),
            "minimum_age": self._t(f"{age}歳", f"{age} years"),
            "monthly_fee": self._t(f"{fee_ja:,}円", f"${fee_en}.99"),
            "cancellation_notice": self._t(f"{notice}日前", f"{notice} days"),
            "refund_period": self._t(f"{refund}日以内", f"{refund} days"),
            "data_retention": self._t(f"{keep}日間", f"{keep} days"),
            "max_devices": self._t(f"{devices}台", f"{devices} devices"),
        }

    def procedure(self) -> dict[str, str]:
        r = self.rng
        months = r.choice((1, 2, 3, 4, 6, 12))
        minutes = r.choice(range(15, 181, 5))
        workers = r.randint(*PLAUSIBLE["workers"])
        temp = r.choice(range(30, 91, 5))
        return {
            "equipment": self._pick(EQUIPMENT),
            "frequency": self._t(f"{months}か月ごと", "every month" if months == 1 else f"every {months} months"),
            "duration": self._t(f"{minutes}分", f"{minutes} minutes"),
            "workers": self._t(f"{workers}名", "one worker" if workers == 1 else f"{workers} workers"),
            "tool": self._pick(TOOLS),
            "temperature": self._t(f"{temp}℃", f"{temp}°C"),
            "first_step": self._pick(FIRST_STEPS),
            "department": self._pick(DEPARTMENTS),
        }

    def glossary(self) -> dict[str, str]:
        r = self.rng
        year = r.randint(*PLAUSIBLE["introduced_year"])
        week, (day_ja, day_en) = r.randint(1, 4), r.choice(WEEKDAYS)
        people = r.randint(*PLAUSIBLE["participants"])
        return {
            "meaning": self._pick(MEANINGS),
            "introduced_year": self._t(f"{year}年", str(year)),
            "department": self._pick(DEPARTMENTS),
            "origin": self._pick(ORIGINS),
            "related_term": self.names.term(),
            "schedule": self._t(f"毎月第{week}{day_ja}曜日", f"the {ORDINALS[week - 1]} {day_en} of each month"),
            "participants": self._t(f"{people}名", f"{people} people"),
            "form_code": self.names.code(),
        }


def pool_values(lang: str) -> list[str]:
    """Every pool string of one language, so ``NameBook.reserve`` can keep invented names clear of them."""
    pools = (PLACES, USES, FEATURES, CITIES, BUSINESSES, EQUIPMENT, TOOLS, FIRST_STEPS, DEPARTMENTS, MEANINGS, ORIGINS)
    return [pair[0 if lang == "ja" else 1] for pool in pools for pair in pool]
