import * as z from "zod";

/**
 * The scenario-specific data of each scenario type. These schemas are the single definition of each
 * member's fields, types and ranges: the built-in templates (templates.ts) derive their field
 * specs from them, and the JSON Schemas under schemas/ are generated from them.
 *
 * Every field is optional here: which ones a scenario requires is a template/config decision.
 * Only rules a field spec can express are used (type, element type, min/max, allowed values), so
 * the derived templates check exactly what these schemas say; sizes are bounded per event.
 * Durations are seconds unless the description says otherwise.
 */

const count = () => z.int().min(0);
const seconds = () => z.int().min(0);
const ratio = () => z.number().min(0).max(1);
const text = () => z.string();
const tags = () => z.array(z.string());

export const VideoData = z.object({
  duration: seconds().optional().describe("Length of the video in seconds"),
  watch_duration: seconds().optional().describe("Seconds actually watched"),
  completion_rate: ratio().optional().describe("Share of the video watched, 0–1"),
  video_quality: z.enum(["360p", "720p", "1080p", "4K"]).optional().describe("Playback quality"),
  is_fullscreen: z.boolean().optional().describe("Played in full screen"),
  is_muted: z.boolean().optional().describe("Played muted"),
  playback_speed: z.number().min(0.1).max(16).optional().describe("Playback speed (1.0, 1.5, 2.0 …)"),
  seek_positions: z.array(seconds()).optional().describe("Positions (seconds) the user seeked to"),
  buffer_time: z.int().min(0).optional().describe("Time spent buffering, milliseconds"),
});

export const EcommerceData = z.object({
  price: z.number().min(0).optional().describe("Unit price"),
  currency: z.string().optional().describe("Currency code (CNY, USD …)"),
  quantity: count().optional().describe("Number of units"),
  discount: ratio().optional().describe("Discount as a fraction of the price, 0–1"),
  category_path: text().optional().describe("Category path, e.g. /clothing/women/dresses"),
  brand: text().optional().describe("Brand name"),
  sku_id: text().optional().describe("Stock keeping unit id"),
  product_tags: tags().optional().describe("Product tags"),
  stock_count: count().optional().describe("Units in stock"),
  coupon_id: text().optional().describe("Coupon applied"),
});

export const NewsData = z.object({
  read_duration: seconds().optional().describe("Seconds spent reading"),
  read_progress: ratio().optional().describe("Share of the article read, 0–1"),
  word_count: count().optional().describe("Words in the article"),
  news_type: text().optional().describe("Kind of news (politics, finance, tech …)"),
  source: text().optional().describe("Publisher"),
  author: text().optional().describe("Author"),
  keywords: tags().optional().describe("Keywords"),
  is_breaking_news: z.boolean().optional().describe("Breaking news"),
  publish_time: z.int().min(0).optional().describe("Publication time, epoch milliseconds"),
});

export const MusicData = z.object({
  duration: seconds().optional().describe("Length of the track in seconds"),
  play_duration: seconds().optional().describe("Seconds played"),
  artist: text().optional().describe("Artist"),
  album: text().optional().describe("Album"),
  genre: text().optional().describe("Genre"),
  bpm: z.int().min(0).max(1000).optional().describe("Beats per minute"),
  language: text().optional().describe("Language of the lyrics"),
  is_vip_only: z.boolean().optional().describe("Only for paying members"),
  audio_quality: z.enum(["standard", "high", "lossless"]).optional().describe("Playback quality"),
});

export const EducationData = z.object({
  course_id: text().optional().describe("Course"),
  chapter_id: text().optional().describe("Chapter of the course"),
  lesson_duration: seconds().optional().describe("Length of the lesson in seconds"),
  study_duration: seconds().optional().describe("Seconds studied"),
  progress: ratio().optional().describe("Progress through the course, 0–1"),
  exercise_count: count().optional().describe("Exercises attempted"),
  correct_count: count().optional().describe("Exercises answered correctly"),
  score: z.number().optional().describe("Score obtained"),
  difficulty_level: text().optional().describe("Difficulty level"),
  is_certificate_course: z.boolean().optional().describe("Leads to a certificate"),
});

export const ContentData = z.object({
  content_type: z
    .enum(["post", "question", "answer", "gallery", "thread"])
    .optional()
    .describe("Kind of content"),
  word_count: count().optional().describe("Words in the content"),
  image_count: count().optional().describe("Images in the content"),
  video_count: count().optional().describe("Videos in the content"),
  topic: text().optional().describe("Topic"),
  content_quality_score: z.number().min(0).max(100).optional().describe("Quality score, 0–100"),
  is_original: z.boolean().optional().describe("Original rather than reposted"),
  author_level: text().optional().describe("Level of the author"),
  has_hashtags: z.boolean().optional().describe("Carries hashtags"),
  hashtags: tags().optional().describe("Hashtags"),
  engagement_rate: z.number().min(0).optional().describe("Engagement rate"),
  read_time_estimate: seconds().optional().describe("Estimated reading time in seconds"),
});

export const SocialData = z.object({
  relationship_type: z
    .enum(["friend", "follow", "mutual", "suggested"])
    .optional()
    .describe("Relationship to the suggested user"),
  mutual_friends_count: count().optional().describe("Friends in common"),
  social_distance: count().optional().describe("Degrees of separation"),
  influence_score: z.number().optional().describe("Influence score"),
  interaction_frequency: z.enum(["low", "medium", "high"]).optional().describe("How often they interact"),
  common_interests: tags().optional().describe("Interests in common"),
  is_verified: z.boolean().optional().describe("Verified account"),
  follower_count: count().optional().describe("Followers"),
  following_count: count().optional().describe("Accounts followed"),
  post_count: count().optional().describe("Posts published"),
  similarity_score: z.number().optional().describe("Similarity to the user"),
});

export const PersonalizedData = z.object({
  personalization_score: ratio().optional().describe("Personalisation score, 0–1"),
  match_reasons: tags().optional().describe("Why the item was recommended"),
  user_interests_match: z.number().optional().describe("Match with the user's interests"),
  trending_score: z.number().optional().describe("Trending score"),
  novelty_score: z.number().optional().describe("Novelty score"),
  diversity_group: text().optional().describe("Diversity group"),
  recommendation_strategy: z
    .enum(["collaborative", "content_based", "hybrid"])
    .optional()
    .describe("Strategy that produced the recommendation"),
  model_version: text().optional().describe("Model version"),
  feature_importance: z.record(z.string(), z.number()).optional().describe("Feature name to importance"),
});

/** Free object: checked only against the fields a custom tracking config defines. */
export const CustomData = z.record(z.string(), z.unknown());

/** The nine scenario types: the eight with templates, plus `custom`. */
export const SCENARIO_TYPES = [
  "video",
  "ecommerce",
  "news",
  "music",
  "education",
  "content",
  "social",
  "personalized",
  "custom",
] as const;
export const ScenarioType = z.enum(SCENARIO_TYPES);
export type ScenarioType = z.infer<typeof ScenarioType>;

/** Schema of the `scenario_data` member of each scenario type, keyed by the member's name. */
export const SCENARIO_MEMBERS = {
  video_data: VideoData,
  ecommerce_data: EcommerceData,
  news_data: NewsData,
  music_data: MusicData,
  education_data: EducationData,
  content_data: ContentData,
  social_data: SocialData,
  personalized_data: PersonalizedData,
  custom_data: CustomData,
} as const;
export type ScenarioMember = keyof typeof SCENARIO_MEMBERS;

export const memberOf = (type: ScenarioType): ScenarioMember => `${type}_data`;
export const typeOfMember = (member: ScenarioMember): ScenarioType =>
  member.slice(0, -"_data".length) as ScenarioType;

export const isScenarioMember = (key: string): key is ScenarioMember => Object.hasOwn(SCENARIO_MEMBERS, key);

/** `scenario_data` as documented: exactly one member, with that member's typed fields. */
export const ScenarioData = z.union(
  Object.entries(SCENARIO_MEMBERS).map(([member, schema]) => z.strictObject({ [member]: schema })),
);

export type VideoData = z.infer<typeof VideoData>;
export type EcommerceData = z.infer<typeof EcommerceData>;
export type NewsData = z.infer<typeof NewsData>;
export type MusicData = z.infer<typeof MusicData>;
export type EducationData = z.infer<typeof EducationData>;
export type ContentData = z.infer<typeof ContentData>;
export type SocialData = z.infer<typeof SocialData>;
export type PersonalizedData = z.infer<typeof PersonalizedData>;
export type CustomData = z.infer<typeof CustomData>;
/** One member of scenario_data, typed. */
export type ScenarioData = {
  [M in ScenarioMember]: { [K in M]: z.infer<(typeof SCENARIO_MEMBERS)[M]> };
}[ScenarioMember];
