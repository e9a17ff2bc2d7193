"""Write the synthetic sample registry of the Sui county HRSS bureau to storage/sample/.

Deterministic: every random choice comes from one seeded generator, so reruns are byte-identical.
Run from the repository root:  python tests/tools/make_sample.py
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the script runs as a file, so make `bot` importable

from bot.registry.uscc import ALPHABET, check_character  # noqa: E402

OUT_DIR = ROOT / "storage" / "sample"
COLUMNS_FILE = ROOT / "templates" / "registry" / "columns.toml"
SEED = 20261126
COUNTY_CODE = "411422"
SUBJECT = "睢县人力资源和社会保障局"
INSPECTION_UNIT = "劳动保障监察大队"

# fmt: off
UNITS = [
    ("办公室", "股室"), ("劳动关系股", "股室"), ("社会保险股", "股室"), ("就业促进股", "股室"),
    ("人力资源开发股", "股室"), ("机关纪委", "股室"), (INSPECTION_UNIT, "二级机构"),
    ("社会保险中心", "二级机构"), ("劳动人事争议仲裁院", "二级机构"), ("就业服务中心", "二级机构"),
]
OTHER_OFFICER_UNITS = ["劳动关系股", "社会保险中心", "劳动人事争议仲裁院", "就业服务中心",
                       "社会保险股"]

# Names with their pinyin, spelled out because the script uses the standard library only.
SURNAMES = {
    "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang", "赵": "zhao",
    "孙": "sun", "郭": "guo", "马": "ma", "朱": "zhu", "胡": "hu", "高": "gao", "宋": "song",
    "贾": "jia", "牛": "niu", "闫": "yan", "侯": "hou", "范": "fan", "孟": "meng", "段": "duan",
    "苗": "miao", "楚": "chu", "徐": "xu", "周": "zhou", "吴": "wu", "黄": "huang", "韩": "han",
    "冯": "feng", "邓": "deng", "田": "tian", "董": "dong", "袁": "yuan", "蒋": "jiang",
}
GIVEN_NAMES = {
    "建国": "jianguo", "志强": "zhiqiang", "海涛": "haitao", "晓东": "xiaodong", "振华": "zhenhua",
    "文斌": "wenbin", "红军": "hongjun", "永刚": "yonggang", "国庆": "guoqing", "宏伟": "hongwei",
    "俊杰": "junjie", "明亮": "mingliang", "浩然": "haoran", "鹏飞": "pengfei", "卫东": "weidong",
    "亚飞": "yafei", "新民": "xinmin", "伟": "wei", "磊": "lei", "勇": "yong", "军": "jun",
    "强": "qiang", "杰": "jie", "涛": "tao", "斌": "bin", "鹏": "peng", "凯": "kai", "峰": "feng",
    "秀英": "xiuying", "桂兰": "guilan", "丽娟": "lijuan", "晓燕": "xiaoyan", "红霞": "hongxia",
    "艳丽": "yanli", "雪梅": "xuemei", "玉兰": "yulan", "慧敏": "huimin", "春梅": "chunmei",
    "婷婷": "tingting", "亚楠": "yanan", "梦瑶": "mengyao", "佳琪": "jiaqi", "静": "jing",
    "芳": "fang", "娜": "na", "敏": "min", "丽": "li", "艳": "yan", "霞": "xia", "娟": "juan",
}
SPECIALTIES = ["工资支付", "劳动合同", "社会保险", "工作时间", "童工与未成年工", "女职工保护",
               "劳务派遣", "人力资源服务"]

# Townships of Sui county: (sampling weight, number of grids).
TOWNS = {"城关镇": (10, 12), "城郊乡": (6, 8)} | dict.fromkeys([
    "西陵寺镇", "潮庄镇", "平岗镇", "周堂镇", "蓼堤镇", "董店乡", "河集乡", "后台乡", "白楼乡",
    "孙聚寨乡", "尚屯镇", "长岗镇", "匡城乡", "涧岗乡", "胡堂乡", "白庙乡", "河堤乡", "尤吉屯乡",
], (1, 4))
ROADS = ["人民路", "建设路", "文化路", "胜利路", "工业路", "新华路", "兴业路", "和平路", "北湖路"]
VILLAGE_SUFFIXES = ["庄", "楼", "集", "寨", "营", "桥", "屯", "岗"]
BRANDS = [
    "恒达", "金源", "鑫盛", "宏图", "永兴", "华美", "顺通", "瑞丰", "隆昌", "福源", "佳和", "天瑞",
    "众诚", "博远", "泰和", "润泽", "鸿运", "万通", "亿丰", "豫东", "中原", "嘉禾", "盛世", "兴旺",
    "祥瑞", "德信", "新锐", "昌盛", "聚力", "同创", "华鑫", "凯旋", "锦程", "辰阳", "东方", "汇丰",
    "金鼎", "宏发", "伟业", "富康", "安泰", "诚信", "和顺", "协力", "广源", "明达", "千禧", "长盛",
]
# Industry (GB/T 4754 section): (weight, median employee count, trade words for company names).
INDUSTRIES = {
    "制造业": (34, 60, ["制鞋", "鞋业", "鞋材", "纺织", "服饰", "电子科技", "电子", "木业",
                        "家具", "食品", "塑业", "包装", "机械制造", "印务"]),
    "建筑业": (10, 28, ["建筑工程", "建设工程", "建筑安装工程", "装饰工程", "市政工程"]),
    "批发和零售业": (14, 10, ["商贸", "超市", "百货", "农资", "医药", "五金", "汽车销售"]),
    "住宿和餐饮业": (9, 12, ["餐饮管理", "酒店管理", "宾馆", "大酒店"]),
    "交通运输、仓储和邮政业": (6, 16, ["物流", "运输", "快递", "仓储"]),
    "居民服务、修理和其他服务业": (6, 8, ["家政服务", "汽车维修", "保洁服务", "洗涤服务"]),
    "教育": (3, 14, ["职业技能培训学校", "艺术培训学校"]),
    "卫生和社会工作": (4, 35, ["医院", "养老服务", "康复医院"]),
    "租赁和商务服务业": (6, 14, ["人力资源服务", "劳务派遣", "物业服务", "广告传媒"]),
    "信息传输、软件和信息技术服务业": (3, 10, ["网络科技", "信息技术", "软件科技"]),
    "农、林、牧、渔业": (5, 9, ["农业开发", "养殖", "种植", "农业科技"]),
}
# Individual businesses (个体工商户, USCC kind "2"): industry -> shop words.
SHOPS = {
    "住宿和餐饮业": ["饭店", "饭庄", "烩面馆"],
    "批发和零售业": ["超市", "便利店", "日杂门市"],
    "居民服务、修理和其他服务业": ["汽车修理部", "理发店"],
    "卫生和社会工作": ["诊所"],
}

LAW = "《中华人民共和国劳动法》"
LCL = "《中华人民共和国劳动合同法》"
LSR = "《劳动保障监察条例》"
# (name, legal basis, content, method, default ratio, times a year)
ITEMS = [
    ("用人单位遵守规章制度情况", f"{LAW}第八十九条；{LCL}第四条、第八十条；{LSR}第十一条",
     "检查用人单位制定直接涉及劳动者切身利益的规章制度是否经民主程序、"
     "是否公示或告知劳动者，内容是否合法。", "书面检查、实地检查", "5%", 1),
    ("劳动合同签订及招用工管理情况",
     f"{LCL}第九条、第十条、第八十二条、第八十四条；{LSR}第十一条、第二十四条",
     "检查用人单位是否依法与劳动者订立书面劳动合同，招用劳动者时是否扣押证件或收取财物。",
     "实地检查、书面检查", "5%", 1),
    ("工资支付情况", f"{LAW}第五十条、第九十一条；{LCL}第三十条、第八十五条；"
     f"{LSR}第二十六条；《保障农民工工资支付条例》",
     "检查用人单位是否按时足额以货币形式支付劳动者工资，"
     "工程建设领域是否落实农民工工资支付相关制度。", "实地检查、书面检查、网络监测", "5%", 2),
    ("最低工资标准执行情况", f"{LAW}第四十八条、第九十一条；《最低工资规定》第十二条、第十三条",
     "检查用人单位支付的工资在剔除延长工作时间工资等项目后是否低于当地最低工资标准。",
     "书面检查", "3%", 1),
    ("工作时间和休息休假情况", f"{LAW}第三十六条、第四十一条、第九十条；"
     f"《国务院关于职工工作时间的规定》第三条；{LSR}第二十五条",
     "检查用人单位执行工时制度、延长工作时间及安排劳动者休息休假的情况。",
     "实地检查、书面检查", "3%", 1),
    ("社会保险参保缴费情况",
     "《中华人民共和国社会保险法》第五十八条、第六十条、第八十四条、第八十六条",
     "检查用人单位是否依法为职工办理社会保险登记，是否按时足额缴纳社会保险费。",
     "书面检查、网络监测", "5%", 1),
    ("禁止使用童工情况", f"{LAW}第十五条、第九十四条；《禁止使用童工规定》第二条、第四条、第六条",
     "检查用人单位是否招用不满十六周岁的未成年人，招用人员时是否核查身份证并妥善保管录用登记材料。",
     "实地检查", "2%", 1),
    ("女职工和未成年工特殊保护情况",
     f"{LAW}第五十八条至第六十五条、第九十五条；《女职工劳动保护特别规定》第十三条",
     "检查用人单位落实女职工孕期、产期、哺乳期保护，以及未成年工定期健康检查、"
     "禁忌劳动范围等规定的情况。", "实地检查、书面检查", "2.5%", 1),
    ("劳务派遣用工情况",
     f"{LCL}第五十七条至第六十七条、第九十二条；《劳务派遣暂行规定》第三条、第四条",
     "检查劳务派遣单位是否取得经营许可，用工单位使用被派遣劳动者的岗位和比例是否合规。",
     "书面检查、实地检查", "10%", 1),
]
RECUSAL_REASONS = ["配偶在该单位任职", "本人曾在该单位工作", "近亲属系该单位股东",
                   "近亲属在该单位担任管理人员", "与该单位负责人有其他利害关系"]
# fmt: on


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> str:
    """Return an ISO date drawn uniformly from [start, end]."""
    return (start + dt.timedelta(days=rng.randint(0, (end - start).days))).isoformat()


def org_check_digit(body: str) -> str:
    """GB 11714 check digit of an 8-character organization code body (letters: A=10 … Z=35)."""
    values = [int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10 for ch in body]
    check = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_uscc(rng: random.Random, kind: str) -> str:
    """A valid USCC issued by market regulation ("9") in Sui county.

    ``kind`` is "1" for an enterprise, "2" for an individual business, "3" for a cooperative.
    """
    if rng.random() < 0.7:  # organization codes assigned since 2015 start with "MA"
        body = "MA" + "".join(rng.choices(ALPHABET, k=6))
    else:
        body = "".join(rng.choices("0123456789", k=8))
    first17 = "9" + kind + COUNTY_CODE + body + org_check_digit(body)
    return first17 + check_character(first17)


def unique(make, seen: set[str]) -> str:
    """Call ``make()`` until it returns a value not in ``seen``; record and return it."""
    value = make()
    while value in seen:
        value = make()
    seen.add(value)
    return value


def free_userid(base: str, taken: set[str]) -> str:
    """Claim ``base``, or ``base`` with the smallest free suffix 2, 3, …"""
    userid, n = base, 1
    while userid in taken:
        n += 1
        userid = f"{base}{n}"
    taken.add(userid)
    return userid


def make_officers(rng: random.Random) -> list[dict]:
    """40 certified officers (6 of them leaders), 2 witnesses and 2 administrators."""
    plan = (
        [("执法人员、领导", INSPECTION_UNIT)] * 3
        + [("执法人员、领导", unit) for unit in OTHER_OFFICER_UNITS[:3]]
        + [("执法人员", INSPECTION_UNIT)] * 22
        + [("执法人员", OTHER_OFFICER_UNITS[i % 5]) for i in range(12)]
        + [("监督人", "机关纪委")] * 2
        + [("管理员", "办公室")] * 2
    )
    expired, suspended = (10, 21, 33), 27  # row indices of plain officers
    serials = sorted(rng.sample(range(100, 3000), 40))
    names: set[str] = set()
    wecom_ids: set[str] = set()
    dingtalk_ids: set[str] = set()
    rows = []
    for i, (roles, unit) in enumerate(plan):
        name = unique(lambda: rng.choice(list(SURNAMES)) + rng.choice(list(GIVEN_NAMES)), names)
        certified = "执法人员" in roles
        if i in expired:
            valid_until = random_date(rng, dt.date(2025, 1, 1), dt.date(2026, 3, 31))
        else:
            valid_until = random_date(rng, dt.date(2027, 1, 1), dt.date(2029, 12, 31))
        specialties = rng.sample(SPECIALTIES, rng.randint(0, 3)) if certified else []
        rows.append(
            {
                "certificate_no": f"豫{COUNTY_CODE}{serials[i]:05d}" if certified else "",
                "name": name,
                "unit": unit,
                "roles": roles,
                "team_leader_eligible": "是" if "领导" in roles else "否",
                "certificate_authority": "河南省人民政府" if certified else "",
                "certificate_valid_until": valid_until if certified else "",
                "certificate_status": ("暂扣" if i == suspended else "有效") if certified else "",
                "specialties": "、".join(sorted(specialties, key=SPECIALTIES.index)),
                "wecom_userid": free_userid(SURNAMES[name[0]] + GIVEN_NAMES[name[1:]], wecom_ids),
                "dingtalk_userid": unique(lambda: f"0{rng.randrange(10**15):015d}", dingtalk_ids),
            }
        )
    return rows


def make_entity_name(rng: random.Random, kind: str, industry: str, town: str) -> str:
    brand = rng.choice(BRANDS)
    if kind == "2":
        return f"睢县{town}{brand}{rng.choice(SHOPS[industry])}"
    if kind == "3":
        return f"睢县{brand}{rng.choice(['种植', '养殖', '农机'])}专业合作社"
    trade = rng.choice(INDUSTRIES[industry][2])
    if industry != "教育" and rng.random() < 0.05:
        return f"商丘市{brand}{trade}有限公司睢县分公司"
    form = rng.choices(["有限公司", "有限责任公司", "股份有限公司"], [88, 9, 3])[0]
    return f"睢县{brand}{trade}{form}"


def make_address(rng: random.Random, town: str) -> str:
    if town in ("城关镇", "城郊乡"):
        place = rng.choice(ROADS)
    else:
        place = rng.choice(list(SURNAMES)) + rng.choice(VILLAGE_SUFFIXES) + "村"
    return f"睢县{town}{place}{rng.randint(1, 299)}号"


def make_entities(rng: random.Random) -> list[dict]:
    """500 employers; the credit grades follow the exact target shares 60/18/5/17 %."""
    grades = ["A"] * 300 + ["B"] * 90 + ["C"] * 25 + [""] * 85
    rng.shuffle(grades)
    complaint_odds = {"A": 0.12, "B": 0.35, "C": 0.7, "": 0.2}
    towns, town_weights = list(TOWNS), [weight for weight, _ in TOWNS.values()]
    industries, industry_weights = list(INDUSTRIES), [v[0] for v in INDUSTRIES.values()]
    codes: set[str] = set()
    names: set[str] = set()
    rows = []
    for grade in grades:
        kind = rng.choices("123", [88, 8, 4])[0]
        if kind == "2":
            industry, median, top = rng.choice(list(SHOPS)), 5, 12
        elif kind == "3":
            industry, median, top = "农、林、牧、渔业", 8, 30
        else:
            industry = rng.choices(industries, industry_weights)[0]
            median, top = INDUSTRIES[industry][1], 2000
        town = rng.choices(towns, town_weights)[0]
        complaints = 0
        if rng.random() < complaint_odds[grade]:
            complaints = rng.choices(range(1, 7), [40, 25, 15, 10, 6, 4])[0]
        spread = 1.1 if industry == "制造业" else 0.9  # a few large shoe and electronics plants
        employees = round(math.exp(rng.gauss(math.log(median), spread)))
        inspected = rng.random() >= 0.55
        rows.append(
            {
                "uscc": unique(lambda k=kind: make_uscc(rng, k), codes),
                "name": unique(
                    lambda k=kind, i=industry, t=town: make_entity_name(rng, k, i, t), names
                ),
                "address": make_address(rng, town),
                "district": town,
                "grid": f"{town}第{rng.randint(1, TOWNS[town][1])}网格",
                "industry": industry,
                "employee_count": min(max(employees, 3), top),
                "credit_grade": grade,
                "complaints_12m": complaints,
                "serious_violation": "是"
                if rng.random() < (0.8 if grade == "C" else 0.01)
                else "否",
                "status": rng.choices(["存续", "停业", "注销", "吊销", "迁出"], [94, 2, 2, 1, 1])[
                    0
                ],
                "last_inspected": random_date(rng, dt.date(2023, 1, 1), dt.date(2026, 10, 31))
                if inspected
                else "",
            }
        )
    return rows


def make_items() -> list[dict]:
    return [
        dict(
            code=f"RS-JC-{i:03d}",
            name=name,
            subject=SUBJECT,
            legal_basis=basis,
            content=content,
            method=method,
            default_ratio=ratio,
            frequency_per_year=times,
            valid_from="2026-01-01",
            valid_to="",
        )
        for i, (name, basis, content, method, ratio, times) in enumerate(ITEMS, start=1)
    ]


def make_recusals(rng: random.Random, officers: list[dict], entities: list[dict]) -> list[dict]:
    certified = [o["certificate_no"] for o in officers if o["certificate_no"]]
    pairs = zip(rng.sample(certified, 6), rng.sample(entities, 6), strict=True)
    rows = [
        dict(
            certificate_no=cert,
            uscc=entity["uscc"],
            reason=rng.choice(RECUSAL_REASONS),
            declared_on=random_date(rng, dt.date(2026, 1, 5), dt.date(2026, 11, 20)),
        )
        for cert, entity in pairs
    ]
    return sorted(rows, key=lambda row: row["declared_on"])


def write_csv(path: Path, columns: dict[str, str], rows: list[dict]) -> None:
    """Write rows keyed by the English field names under the Chinese header row."""
    for row in rows:
        if list(row) != list(columns):
            raise ValueError(f"{path.name}: fields {list(row)} differ from {list(columns)}")
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)  # dialect "excel": comma-separated, CRLF line endings
        writer.writerow(columns.values())
        writer.writerows(row.values() for row in rows)


def main() -> None:
    columns = tomllib.loads(COLUMNS_FILE.read_text(encoding="utf-8"))
    rng = random.Random(SEED)
    officers = make_officers(rng)
    entities = make_entities(rng)
    tables = {
        "units": [dict(name=name, kind=kind) for name, kind in UNITS],
        "officers": officers,
        "entities": entities,
        "items": make_items(),
        "recusals": make_recusals(rng, officers, entities),
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        write_csv(OUT_DIR / f"{table}.csv", columns[table], rows)
        print(f"{table}.csv: {len(rows)} rows")


if __name__ == "__main__":
    main()
