"""Document and question templates for the fictional seed documents, per category and language.

In the spirit of the paper's App. A (「{product} は、{year} 年に発売された製品で、{charactor} が特徴です。…」): each
category has three surface forms with different sentence orders and phrasings, so documents of one category do
not read identically. Placeholders: ``{name}`` (the subject, only in the first sentence), ``{ana}`` / ``{Ana}``
(the anaphor that refers to it afterwards, e.g. 同製品 / "the product"), one placeholder per fact key, and
``{closing}`` (fact-free sentences that bring the document to its target length). Questions name the subject, so each is answerable without context.
"""

from __future__ import annotations

import re

# Fact keys per category, in the order the fact table lists them (after ``name``).
FACT_KEYS: dict[str, tuple[str, ...]] = {
    "terms": ("provider", "effective_date", "minimum_age", "monthly_fee", "cancellation_notice", "refund_period",
              "data_retention", "max_devices"),
    "product": ("release_year", "feature", "place", "use", "previous_product", "speed_ratio", "power", "weight"),
    "procedure": ("equipment", "frequency", "duration", "workers", "tool", "temperature", "first_step",
                  "department"),
    "glossary": ("meaning", "introduced_year", "department", "origin", "related_term", "schedule", "participants",
                 "form_code"),
    "company": ("founded_year", "headquarters", "ceo", "employees", "revenue", "ordinary_profit", "main_business",
                "offices"),
}

ANAPHORS: dict[str, dict[str, tuple[str, ...]]] = {
    "ja": {"terms": ("本サービス", "同サービス"), "product": ("同製品", "本製品"), "procedure": ("本手順", "この手順"),
           "glossary": ("この用語", "同用語"), "company": ("同社",)},
    "en": {"terms": ("the service",), "product": ("the product", "this product"), "procedure": ("the procedure",),
           "glossary": ("the term",), "company": ("the company",)},
}

TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {"ja": {}, "en": {}}

TEMPLATES["ja"]["product"] = (
    "{name}は、{release_year}に発売された製品で、{feature}が特徴です。{ana}は主に{place}で、{use}に利用されています。"
    "{ana}は{previous_product}の後継機として開発され、処理速度は従来品の{speed_ratio}に向上しました。"
    "消費電力は{power}、本体の重さは{weight}で、設置や持ち運びも容易です。{closing}",
    "{release_year}に登場した{name}は、{feature}を備えた製品です。{ana}は{previous_product}の後継として位置づけられ、"
    "従来品と比べて{speed_ratio}の処理速度を実現しています。本体の重さは{weight}、消費電力は{power}に抑えられています。"
    "主な利用場所は{place}で、{use}の用途で広く使われています。{closing}",
    "{name}は、{feature}を最大の特徴とする製品です。{ana}が発売されたのは{release_year}で、それまで使われていた"
    "{previous_product}に代わる製品として開発されました。{ana}の重さは{weight}、消費電力は{power}です。"
    "主に{place}で{use}のために使われており、処理速度は従来品の{speed_ratio}に達します。{closing}",
)
TEMPLATES["en"]["product"] = (
    "{name} is a product released in {release_year}, and its main feature is {feature}. {Ana} is mainly used in "
    "{place} for {use}. It was developed as the successor to {previous_product}, and its processing speed is "
    "{speed_ratio} that of the earlier model. {Ana} consumes {power} of power and weighs {weight}, so it is easy to "
    "install and move around. {closing}",
    "Launched in {release_year}, {name} is a product that comes with {feature}. {Ana} replaces {previous_product} "
    "and runs at {speed_ratio} the processing speed of the earlier model. It weighs {weight}, and its power "
    "consumption is kept to {power}. Customers mostly use {ana} in {place}, where it is relied on for {use}. "
    "{closing}",
    "The defining feature of {name} is {feature}. {Ana} went on sale in {release_year} as the replacement for "
    "{previous_product}. It weighs {weight} and draws {power} when running. {Ana} is used mainly in {place} for "
    "{use}, and it handles work at {speed_ratio} the speed of the model it replaced. {closing}",
)

TEMPLATES["ja"]["company"] = (
    "株式会社{name}は、{founded_year}に設立された企業で、{main_business}を主な事業としています。{ana}の本社は"
    "{headquarters}にあり、代表取締役社長は{ceo}です。従業員数は{employees}で、国内外に{offices}の拠点を構えています。"
    "直近の年間売上高は{revenue}、経常利益は{ordinary_profit}でした。{closing}",
    "{headquarters}に本社を置く株式会社{name}は、{main_business}を手がける企業です。{ana}は{founded_year}に創業し、"
    "現在は{ceo}が社長を務めています。拠点の数は{offices}、従業員数は{employees}にのぼります。業績面では、"
    "年間売上高が{revenue}、経常利益が{ordinary_profit}となっています。{closing}",
    "株式会社{name}の事業の柱は{main_business}です。{ana}は{founded_year}の設立以来、本社を{headquarters}に構えています。"
    "{ana}の社長は{ceo}で、{employees}の従業員が{offices}の拠点で働いています。最新の決算では、年間売上高{revenue}、"
    "経常利益{ordinary_profit}を計上しました。{closing}",
)
TEMPLATES["en"]["company"] = (
    "{name} Inc. was founded in {founded_year}, and its main business is {main_business}. {Ana} has its "
    "headquarters in {headquarters}, and its chief executive is {ceo}. It has {employees} and operates "
    "{offices} in Japan and abroad. In the latest fiscal year, {ana} reported revenue of {revenue} and an ordinary "
    "profit of {ordinary_profit}. {closing}",
    "Headquartered in {headquarters}, {name} Inc. is a company whose main business is {main_business}. {Ana} was "
    "established in {founded_year} and is now led by chief executive {ceo}. It has {offices} and {employees} in "
    "total. For the latest fiscal year, its annual revenue was {revenue} and its ordinary profit was "
    "{ordinary_profit}. {closing}",
    "The core business of {name} Inc. is {main_business}. Since it was founded in {founded_year}, {ana} has kept "
    "its headquarters in {headquarters}. Its chief executive is {ceo}, and {employees} work across its {offices}. "
    "In its most recent results, {ana} posted annual revenue of {revenue} and an ordinary profit of "
    "{ordinary_profit}. {closing}",
)

TEMPLATES["ja"]["terms"] = (
    "本規約は、{provider}が提供するサービス「{name}」の利用条件を定めるものです。本規約は{effective_date}から適用されます。"
    "{ana}を利用できるのは{minimum_age}以上の方で、月額料金は{monthly_fee}（税込）です。1つのアカウントで同時に利用できる"
    "端末は{max_devices}までです。解約する場合は更新日の{cancellation_notice}までに申し出る必要があり、申込み後"
    "{refund_period}であれば返金を受けられます。退会後のデータは{data_retention}保管されます。{closing}",
    "「{name}」は{provider}が運営する会員制サービスであり、本規約はその利用条件を定めます。本規約の適用開始日は"
    "{effective_date}です。{ana}の月額料金は{monthly_fee}（税込）で、登録できるのは{minimum_age}以上の方に限られます。"
    "同時に利用できる端末は1アカウントあたり{max_devices}です。解約の申し出は更新日の{cancellation_notice}までに"
    "行ってください。申込みから{refund_period}の解約であれば料金が返金されます。退会後のデータは{data_retention}保管されます。{closing}",
    "この利用規約は、{provider}のサービス「{name}」に適用され、{effective_date}に施行されました。{ana}に登録できるのは"
    "{minimum_age}以上の方です。料金は月額{monthly_fee}（税込）で、1つのアカウントにつき{max_devices}の端末で同時に"
    "利用できます。退会後、利用者のデータは{data_retention}保管された後に削除されます。返金の対象は申込み後"
    "{refund_period}の解約に限られ、解約の申し出は更新日の{cancellation_notice}までに必要です。{closing}",
)
TEMPLATES["en"]["terms"] = (
    "These terms set out the conditions for using {name}, a service provided by {provider}. The terms apply from "
    "{effective_date}. Users must be at least {minimum_age} of age, and the monthly fee is {monthly_fee} including "
    "tax. Up to {max_devices} can use one account at the same time. To cancel, users must give notice at least "
    "{cancellation_notice} before the renewal date, and a refund is available within {refund_period} of signing "
    "up. After an account is closed, its data is kept for {data_retention} and then deleted. {closing}",
    "{name} is a membership service run by {provider}, and these terms govern its use. They took effect on "
    "{effective_date}. {Ana} costs {monthly_fee} per month including tax and is open to people aged {minimum_age} "
    "or older. One account may be used on up to {max_devices} at once. Cancellation requests must arrive "
    "{cancellation_notice} before the renewal date. Members who cancel within {refund_period} of signing up get "
    "their fee back. Data of closed accounts is stored for {data_retention}. {closing}",
    "These terms of use apply to {name}, a service of {provider}, and came into force on {effective_date}. Only "
    "people aged {minimum_age} or older may register for {ana}. The fee is {monthly_fee} a month including tax, "
    "and each account can be used on {max_devices} at the same time. When a member leaves, their data is kept "
    "for {data_retention} before it is deleted. Refunds are limited to cancellations within {refund_period} of "
    "signing up, and notice of cancellation is required {cancellation_notice} before the renewal date. {closing}",
)

TEMPLATES["ja"]["procedure"] = (
    "{name}は、工場内の{equipment}を対象とした作業手順です。{ana}は{frequency}に実施され、1回の作業時間はおよそ"
    "{duration}です。作業は{workers}で行い、責任部署は{department}です。最初に行う作業は{first_step}で、続いて"
    "{tool}を使って各部の状態を確認します。作業時の設定温度は{temperature}とします。{closing}",
    "{equipment}の保守のために定められた{name}は、{department}が管理する作業手順です。{ana}は{frequency}に"
    "{workers}で実施し、所要時間は{duration}を目安とします。作業はまず{first_step}から始め、点検には{tool}を"
    "使用します。作業中は設定温度を{temperature}に保ちます。{closing}",
    "{name}では、{first_step}を最初の作業とすることが定められています。{ana}の対象設備は{equipment}で、"
    "実施の頻度は{frequency}です。1回の作業には{workers}があたり、時間は{duration}ほどかかります。主な工具は"
    "{tool}で、設定温度は{temperature}です。手順書の改訂は{department}が担当します。{closing}",
)
TEMPLATES["en"]["procedure"] = (
    "The {name} covers the {equipment} on the factory floor. {Ana} is carried out {frequency}, and one round "
    "takes about {duration}. The work is done by {workers}, and {department} is responsible for it. The first "
    "step is {first_step}; after that, each part is checked with the {tool}. During the work, the set temperature "
    "is {temperature}. {closing}",
    "Written for the upkeep of the {equipment}, the {name} is managed by {department}. {Ana} is performed "
    "{frequency} by {workers} and should take around {duration}. The work always begins with {first_step}, and "
    "the {tool} is used for the checks. The set temperature is held at {temperature} while the work goes on. "
    "{closing}",
    "The {name} requires {first_step} as its very first step. {Ana} applies to the {equipment} and is repeated "
    "{frequency}. Each round needs {workers} and lasts about {duration}. The main tool is the {tool}, and the set "
    "temperature is {temperature}. Revisions of the written procedure are handled by {department}. {closing}",
)

TEMPLATES["ja"]["glossary"] = (
    "「{name}」は、社内で{meaning}を指す用語です。{ana}は{introduced_year}から使われており、由来は{origin}だと"
    "されています。主に{department}で使われ、関連する用語に「{related_term}」があります。この集まりは{schedule}に"
    "開かれ、毎回{participants}が参加します。記録には様式{form_code}を用います。{closing}",
    "{department}でよく耳にする「{name}」とは、{meaning}のことです。{ana}が使われ始めたのは{introduced_year}で、"
    "{origin}が由来です。開催日は{schedule}と決まっており、参加者は毎回{participants}です。結果は様式{form_code}に"
    "記録します。なお、似た場面で使われる用語に「{related_term}」があります。{closing}",
    "社内用語の「{name}」は{origin}に由来し、{introduced_year}に生まれました。{ana}が指すのは{meaning}で、"
    "主に{department}の社員が使います。{schedule}に行われ、毎回{participants}が集まります。記録用の様式は"
    "{form_code}で、関連用語には「{related_term}」があります。{closing}",
)
TEMPLATES["en"]["glossary"] = (
    "In our company, \"{name}\" is the in-house word for {meaning}. {Ana} has been in use since {introduced_year}, "
    "and it is said to come from {origin}. It is used mainly in {department}, and a related term is "
    "\"{related_term}\". The gathering is held on {schedule}, and {participants} take part each time. Minutes are "
    "kept on form {form_code}. {closing}",
    "Often heard in {department}, \"{name}\" means {meaning}. {Ana} came into use in {introduced_year}, and its "
    "origin is {origin}. It always takes place on {schedule}, with {participants} attending each time. The "
    "results are recorded on form {form_code}. A term used in similar situations is \"{related_term}\". {closing}",
    "The in-house term \"{name}\" comes from {origin} and was coined in {introduced_year}. {Ana} refers to "
    "{meaning} and is used mostly by staff of {department}. It is held on {schedule}, and {participants} gather "
    "each time. The form used for the record is {form_code}, and a related term is \"{related_term}\". {closing}",
)

# Fact-free closing sentences, appended in a shuffled order until a document reaches its target length
# (``MIN_LENGTH``): they bring every document to ~125 tokens without adding anything answerable.
CLOSINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "ja": {
        "product": ("導入にあたっては販売店による設置の説明が受けられます。", "定期的な手入れによって長く安定して使用できます。",
                    "利用者からは操作が分かりやすいと評価されています。", "取扱説明書には日常の点検方法が詳しく記載されています。",
                    "故障した場合は専門の窓口で修理を受け付けています。"),
        "company": ("同社は地域の人材育成にも力を入れています。", "同社は今後も既存事業の拡大を目指す方針です。",
                    "同社は取引先との長期的な関係を重視しています。", "社内では若手社員の提案を積極的に取り入れています。",
                    "環境への配慮も経営方針の一つに掲げています。"),
        "terms": ("本規約に定めのない事項は、関係法令に従います。", "利用者は本規約に同意したうえでサービスを利用するものとします。",
                  "禁止行為が確認された場合、アカウントを停止することがあります。"),
        "procedure": ("作業後は結果を点検記録に残してください。", "異常を見つけた場合は直ちに作業を中断してください。",
                      "作業前には必ず手順書の最新版を確認してください。", "作業中は関係者以外の立ち入りを禁止します。",
                      "使用した工具は作業後に所定の場所へ戻してください。"),
        "glossary": ("新しく配属された社員は早めに覚えておくとよいでしょう。", "社外の人には通じないため、使う場面に注意が必要です。",
                     "社内の会話では略さずに使われることが多い言葉です。", "社内報でもたびたび取り上げられています。",
                     "ベテラン社員の間では特に親しまれている言葉です。"),
    },
    "en": {
        "product": ("Dealers explain the installation when it is introduced.", "With regular care it runs reliably "
                    "for many years.", "Users often say that it is easy to operate.", "The manual describes the daily "
                    "checks in detail.", "Repairs are handled by a dedicated service desk."),
        "company": ("The company also invests in training local staff.", "It plans to keep growing its existing "
                    "businesses.", "It values long-term relationships with its business partners.", "Young employees "
                    "are encouraged to propose new ideas.", "Care for the environment is part of its management "
                    "policy."),
        "terms": ("Matters not covered by these terms follow the applicable laws.", "By using the service, users "
                  "agree to these terms.", "Accounts that break the rules may be suspended."),
        "procedure": ("Record the results in the inspection log afterwards.", "Stop the work at once if anything "
                      "looks abnormal.", "Always check the latest version of the written procedure first.", "Nobody "
                      "else may enter the area while the work is under way.", "Return every tool to its place when "
                      "the work is finished."),
        "glossary": ("New staff are advised to learn it early.", "People outside the company will not know the "
                     "word, so use it with care.", "It is rarely abbreviated in conversation.", "The company "
                     "newsletter mentions it from time to time.", "Long-serving staff are especially fond of it."),
    },
}
# Shortest document before closings stop being added: characters (ja) or words (en).
MIN_LENGTH = {"ja": 190, "en": 85}


def text_length(text: str, lang: str) -> int:
    """Characters for Japanese, words for English: the units the ~125-token target is stated in."""
    return len(text) if lang == "ja" else len(text.split())


QUESTIONS: dict[str, dict[str, str]] = {
    "ja": {
        # product
        "release_year": "{name}は何年に発売されましたか？", "feature": "{name}の特徴は何ですか？",
        "place": "{name}は主にどこで利用されていますか？", "use": "{name}は主に何の用途に利用されていますか？",
        "previous_product": "{name}の前身となった製品は何ですか？", "speed_ratio": "{name}の処理速度は従来品の何倍ですか？",
        "power": "{name}の消費電力はいくらですか？", "weight": "{name}の重さはどれくらいですか？",
        # company
        "founded_year": "{name}は何年に設立されましたか？", "headquarters": "{name}の本社はどこにありますか？",
        "ceo": "{name}の社長は誰ですか？", "employees": "{name}の従業員数は何名ですか？",
        "revenue": "{name}の年間売上高はいくらですか？", "ordinary_profit": "{name}の経常利益はいくらですか？",
        "main_business": "{name}の主な事業は何ですか？", "offices": "{name}の拠点の数はいくつですか？",
        # terms
        "provider": "{name}を提供している会社はどこですか？", "effective_date": "{name}の利用規約はいつから適用されていますか？",
        "minimum_age": "{name}は何歳以上から利用できますか？", "monthly_fee": "{name}の月額料金はいくらですか？",
        "cancellation_notice": "{name}を解約するには更新日の何日前までに申し出る必要がありますか？",
        "refund_period": "{name}で返金を受けられるのは申込み後何日以内の解約ですか？",
        "data_retention": "{name}の退会後、データはどれくらいの期間保管されますか？",
        "max_devices": "{name}は1つのアカウントで何台の端末まで同時に利用できますか？",
        # procedure
        "equipment": "{name}の対象となる設備は何ですか？", "frequency": "{name}はどのくらいの頻度で実施されますか？",
        "duration": "{name}の1回の作業時間はどれくらいですか？", "workers": "{name}は何名で行いますか？",
        "tool": "{name}で使用する工具は何ですか？", "temperature": "{name}の作業時の設定温度は何度ですか？",
        "first_step": "{name}で最初に行う作業は何ですか？", "department": "{name}を担当する部署はどこですか？",
        # glossary ("department" is shared with procedure; the glossary form below overrides it by category)
        "meaning": "社内用語「{name}」は何を指しますか？", "introduced_year": "社内用語「{name}」は何年から使われていますか？",
        "origin": "社内用語「{name}」の由来は何ですか？", "related_term": "社内用語「{name}」の関連用語は何ですか？",
        "schedule": "社内用語「{name}」が指す集まりはいつ開かれますか？",
        "participants": "社内用語「{name}」が指す集まりには毎回何名が参加しますか？",
        "form_code": "社内用語「{name}」が指す集まりの記録にはどの様式を使いますか？",
        "glossary.department": "社内用語「{name}」は主にどの部署で使われていますか？",
    },
    "en": {
        "release_year": "In what year was {name} released?", "feature": "What is the main feature of {name}?",
        "place": "Where is {name} mainly used?", "use": "What is {name} mainly used for?",
        "previous_product": "Which product did {name} succeed?",
        "speed_ratio": "How does the processing speed of {name} compare with the earlier model?",
        "power": "What is the power consumption of {name}?", "weight": "How much does {name} weigh?",
        "founded_year": "In what year was {name} Inc. founded?", "headquarters": "Where is {name} Inc. headquartered?",
        "ceo": "Who is the chief executive of {name} Inc.?", "employees": "How many employees does {name} Inc. have?",
        "revenue": "What was the annual revenue of {name} Inc.?",
        "ordinary_profit": "What was the ordinary profit of {name} Inc.?",
        "main_business": "What is the main business of {name} Inc.?", "offices": "How many offices does {name} Inc. have?",
        "provider": "Which company provides {name}?", "effective_date": "From what date do the terms of {name} apply?",
        "minimum_age": "What is the minimum age for using {name}?", "monthly_fee": "What is the monthly fee of {name}?",
        "cancellation_notice": "How long before the renewal date must a {name} member give notice to cancel?",
        "refund_period": "Within how long of signing up can a {name} member cancel and get a refund?",
        "data_retention": "How long is the data of a closed {name} account kept?",
        "max_devices": "On how many devices can one {name} account be used at the same time?",
        "equipment": "Which equipment does the {name} cover?", "frequency": "How often is the {name} carried out?",
        "duration": "How long does one round of the {name} take?", "workers": "How many workers does the {name} need?",
        "tool": "What is the main tool used in the {name}?", "temperature": "What is the set temperature in the {name}?",
        "first_step": "What is the first step of the {name}?", "department": "Which department is responsible for the {name}?",
        "meaning": "What does the in-house term \"{name}\" refer to?",
        "introduced_year": "Since what year has the in-house term \"{name}\" been used?",
        "origin": "Where does the in-house term \"{name}\" come from?",
        "related_term": "What is a term related to the in-house term \"{name}\"?",
        "schedule": "When is the gathering called \"{name}\" held?",
        "participants": "How many people take part in the gathering called \"{name}\" each time?",
        "form_code": "Which form is used to record the gathering called \"{name}\"?",
        "glossary.department": "In which department is the in-house term \"{name}\" mainly used?",
    },
}


def question_template(lang: str, category: str, key: str) -> str:
    """The question form for one fact; a ``<category>.<key>`` entry overrides a key shared across categories."""
    forms = QUESTIONS[lang]
    return forms.get(f"{category}.{key}", forms[key])


def template_texts(lang: str) -> list[str]:
    """Every fixed string of one language (documents, closings, questions), placeholders removed."""
    texts = [*(t for forms in TEMPLATES[lang].values() for t in forms), *QUESTIONS[lang].values(),
             *(c for pool in CLOSINGS[lang].values() for c in pool)]
    return [re.sub(r"\{\w+\}", "|", t) for t in texts]
